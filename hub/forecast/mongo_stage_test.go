package forecast

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest/ferret"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongotest.Stop()
	ferret.Stop()
	os.Exit(code)
}

// mongoServers are the two Mongo wire-protocol test servers the store's
// tests use (the first is a real MongoDB when GRIDEDGE_MONGODB_URI is
// set); each test runs against both. uri returns the URI and the kind.
var mongoServers = []struct {
	name string
	uri  func(testing.TB) (string, string)
}{
	{name: "mongotest", uri: mongotest.URI},
	{name: ferret.Kind, uri: func(tb testing.TB) (string, string) { return ferret.URI(tb), ferret.Kind }},
}

// serverLacks maps a server kind and a feature it does not have to the
// text its error (or ours, for a field path taken literally) carries.
var serverLacks = map[string]map[string]string{
	mongotest.KindJavaServer: {"$dateFromParts and $year": "Unrecognized expression '$dateFromParts'"},
	ferret.Kind: {
		// FerretDB v1 takes "$timestamp" in $project/$addFields as a literal string.
		"field paths in $project":   "does not evaluate field paths",
		"$dateFromParts and $year":  "The operator $year is not implemented yet",
		"expressions in $group _id": "NotImplemented",
	},
}

// mongoStart is the first timestamp of the seeded collection.
var mongoStart = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// seedValues fills database db's collection "values" with 48 quarter-hourly
// documents of the seed's shape ({id, timestamp, production}) for id TOTAL,
// plus a temperature, the timestamp also as ISO text and epoch
// milliseconds, and as many documents of another id that the pipelines
// must filter out.
func seedValues(t *testing.T, uri, db string) {
	t.Helper()
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Database(db).Drop(context.Background())
		_ = client.Disconnect(context.Background())
	})
	for _, coll := range []string{"values", "iso", "epoch"} {
		var docs []any
		for i := range 48 {
			ts := mongoStart.Add(time.Duration(i) * 15 * time.Minute)
			var ds any = ts
			switch coll {
			case "iso":
				ds = ts.Format(time.RFC3339)
			case "epoch":
				ds = ts.UnixMilli()
			}
			for _, id := range []string{"TOTAL", "OTHER"} {
				docs = append(docs, bson.D{
					{Key: "id", Value: id},
					{Key: "timestamp", Value: ts},
					{Key: "iso", Value: ts.Format(time.RFC3339)},
					{Key: "epoch", Value: ts.UnixMilli()},
					{Key: "production", Value: float64(i)},
					{Key: "temperature", Value: int32(10 + i%4)},
					{Key: "ds", Value: ds},
					{Key: "y", Value: float64(i)},
					{Key: "temp", Value: int32(10 + i%4)},
				})
			}
		}
		if _, err := client.Database(db).Collection(coll).InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMongoStage runs aggregate pipelines (as JSON text, extended JSON
// allowed) on real Mongo wire-protocol servers and checks the rows, with
// ds given as a BSON date, an ISO string and epoch milliseconds.
func TestMongoStage(t *testing.T) {
	tests := []struct {
		name     string
		pipeline string
		wantRows int
		wantCols []string
		// firstY is the y of the first row, firstDS its ds.
		firstY  float64
		firstDS time.Time
		// collection is "values" unless named.
		collection string
		// needs names a feature some test servers lack (see lacks).
		needs string
	}{
		{
			name:     "stored ds as BSON date, inclusion projection",
			pipeline: `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":1,"y":1,"temp":1}}]`,
			wantRows: 48, wantCols: []string{"temp", "y"}, firstY: 0, firstDS: mongoStart,
		},
		{
			name:       "stored ds as ISO string, _id kept and ignored",
			collection: "iso",
			pipeline:   `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"ds":1,"y":1}}]`,
			wantRows:   48, wantCols: []string{"y"}, firstY: 0, firstDS: mongoStart,
		},
		{
			name:       "stored ds as epoch milliseconds",
			collection: "epoch",
			pipeline:   `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":1,"y":1}}]`,
			wantRows:   48, wantCols: []string{"y"}, firstY: 0, firstDS: mongoStart,
		},
		{
			name: "extended JSON date in $match",
			pipeline: `[{"$match":{"id":"TOTAL","timestamp":{"$gte":{"$date":"2024-03-01T06:00:00Z"}}}},
				{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":1,"y":1}}]`,
			wantRows: 24, wantCols: []string{"y"}, firstY: 24, firstDS: mongoStart.Add(6 * time.Hour),
		},
		{
			name: "ds as BSON date with a regressor", needs: "field paths in $project",
			pipeline: `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":"$timestamp","y":"$production","temp":"$temperature"}}]`,
			wantRows: 48, wantCols: []string{"temp", "y"}, firstY: 0, firstDS: mongoStart,
		},
		{
			name: "ds as ISO string, _id kept and ignored", needs: "field paths in $project",
			pipeline: `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"ds":"$iso","y":"$production"}}]`,
			wantRows: 48, wantCols: []string{"y"}, firstY: 0, firstDS: mongoStart,
		},
		{
			name: "ds as epoch milliseconds", needs: "field paths in $project",
			pipeline: `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":"$epoch","y":"$production"}}]`,
			wantRows: 48, wantCols: []string{"y"}, firstY: 0, firstDS: mongoStart,
		},
		{
			name: "extended JSON date in $match, renaming $project", needs: "field paths in $project",
			pipeline: `[{"$match":{"id":"TOTAL","timestamp":{"$gte":{"$date":"2024-03-01T06:00:00Z"}}}},
				{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":"$timestamp","y":"$production"}}]`,
			wantRows: 24, wantCols: []string{"y"}, firstY: 24, firstDS: mongoStart.Add(6 * time.Hour),
		},
		{
			// The seed's example (3.2.2.4.2.1): hourly buckets by date parts,
			// ds rebuilt with $dateFromParts. The seed's $group has no
			// accumulator for production (its $project then reads a field the
			// group dropped); here the hour's production is summed.
			name: "seed example: hourly $group and $dateFromParts",
			pipeline: `[{"$match":{"id":"TOTAL"}},
				{"$group":{"_id":{"timestamp":{"year":{"$year":"$timestamp"},"month":{"$month":"$timestamp"},"day":{"$dayOfMonth":"$timestamp"},"hour":{"$hour":"$timestamp"}}},"production":{"$sum":"$production"}}},
				{"$project":{"_id":0,"ds":{"$dateFromParts":{"year":"$_id.timestamp.year","month":"$_id.timestamp.month","day":"$_id.timestamp.day","hour":"$_id.timestamp.hour"}},"y":"$production"}},
				{"$sort":{"ds":1}}]`,
			wantRows: 12, wantCols: []string{"y"}, firstY: 0 + 1 + 2 + 3, firstDS: mongoStart, needs: "$dateFromParts and $year",
		},
		{
			// The seed's hourly buckets without date operators: the hour is
			// the epoch milliseconds rounded down.
			name: "hourly $group on epoch milliseconds", needs: "expressions in $group _id",
			pipeline: `[{"$match":{"id":"TOTAL"}},
				{"$group":{"_id":{"$subtract":["$epoch",{"$mod":["$epoch",3600000]}]},"y":{"$sum":"$production"},"temp":{"$max":"$temperature"}}},
				{"$addFields":{"ds":"$_id"}},{"$sort":{"ds":1}}]`,
			wantRows: 12, wantCols: []string{"temp", "y"}, firstY: 0 + 1 + 2 + 3, firstDS: mongoStart,
		},
	}
	for _, srv := range mongoServers {
		t.Run(srv.name, func(t *testing.T) {
			uri, kind := srv.uri(t)
			db := mongotest.DatabaseName()
			seedValues(t, uri, db)
			r := &stageRunner{mongoURI: uri, maxRows: 10000}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					coll := tc.collection
					if coll == "" {
						coll = "values"
					}
					tab, err := r.run(context.Background(), []InputStage{{Mongo: &MongoStage{Database: db, Collection: coll, Aggregate: tc.pipeline}}})
					if lack := serverLacks[kind][tc.needs]; tc.needs != "" && lack != "" {
						// The server's own error must say what it lacks; a
						// server that gains the feature fails here, so the
						// case is then run in full.
						if err == nil || !strings.Contains(err.Error(), lack) {
							t.Fatalf("%s was expected to lack %s (error with %q); got %v", kind, tc.needs, lack, err)
						}
						t.Skipf("%s lacks %s: %v", kind, tc.needs, err)
					}
					if err != nil {
						t.Fatalf("run: %v", err)
					}
					if len(tab.ds) != tc.wantRows {
						t.Fatalf("rows: got %d, want %d", len(tab.ds), tc.wantRows)
					}
					if got := slices.Sorted(maps.Keys(tab.cols)); strings.Join(got, ",") != strings.Join(tc.wantCols, ",") {
						t.Fatalf("columns: got %v, want %v", got, tc.wantCols)
					}
					if !tab.ds[0].Equal(tc.firstDS) || tab.cols["y"][0] != tc.firstY {
						t.Errorf("first row: got ds %v y %v, want ds %v y %v", tab.ds[0], tab.cols["y"][0], tc.firstDS, tc.firstY)
					}
					for i := 1; i < len(tab.ds); i++ {
						if !tab.ds[i].After(tab.ds[i-1]) {
							t.Fatalf("row %d: ds %v not after %v", i, tab.ds[i], tab.ds[i-1])
						}
					}
					if temp, ok := tab.cols["temp"]; ok {
						for i, v := range temp {
							want := float64(10 + i%4)
							if len(tab.ds) == 12 { // hourly: the hour's maximum
								want = 13
							}
							if v != want {
								t.Fatalf("temp[%d]: got %v, want %v", i, v, want)
							}
						}
					}
				})
			}
		})
	}
}

// TestMongoStageJoinsHistory INNER-JOINs a mongo stage (y) with a history
// stage (a regressor): only the hours both have survive.
func TestMongoStageJoinsHistory(t *testing.T) {
	for _, srv := range mongoServers {
		t.Run(srv.name, func(t *testing.T) {
			uri, _ := srv.uri(t)
			db := mongotest.DatabaseName()
			seedValues(t, uri, db)
			hist, err := history.OpenTSDB(history.TSDBOptions{Dir: t.TempDir(), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer hist.Close()
			// Mongo has 00:00–11:45 every 15 minutes; history has the full
			// hours 6..17: the join keeps 06:00…11:00.
			var samples []history.Sample
			for h := 6; h < 18; h++ {
				samples = append(samples, history.Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.irradiance.value",
					T: mongoStart.Add(time.Duration(h) * time.Hour), Value: float64(100 * h), Quality: 1})
			}
			if _, err := hist.Append(context.Background(), samples); err != nil {
				t.Fatal(err)
			}
			r := &stageRunner{mongoURI: uri, history: hist, maxRows: 10000}
			tab, err := r.run(context.Background(), []InputStage{
				{Mongo: &MongoStage{Database: db, Collection: "values",
					Aggregate: `[{"$match":{"id":"TOTAL"}},{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":1,"y":1}}]`}},
				{History: &HistoryStage{Layer: "demo", Collection: "meters", ID: "M1", From: mongoStart, To: mongoStart.Add(24 * time.Hour),
					Columns: map[string]string{"irr": "measurements.irradiance.value"}}},
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(tab.ds) != 6 {
				t.Fatalf("rows: got %d (%v), want the 6 hours both stages have", len(tab.ds), tab.ds)
			}
			for i, ds := range tab.ds {
				h := 6 + i
				if !ds.Equal(mongoStart.Add(time.Duration(h) * time.Hour)) {
					t.Fatalf("row %d: ds %v, want hour %d", i, ds, h)
				}
				if y, irr := tab.cols["y"][i], tab.cols["irr"][i]; y != float64(4*h) || irr != float64(100*h) {
					t.Fatalf("row %d: y %v irr %v, want %d and %d", i, y, irr, 4*h, 100*h)
				}
			}
		})
	}
}

// TestMongoStageErrors: a mongo stage is refused without the mongo store
// backend, and a bad pipeline gets an error saying what is wrong.
func TestMongoStageErrors(t *testing.T) {
	stage := func(db, p string) []InputStage {
		return []InputStage{{Mongo: &MongoStage{Database: db, Collection: "values", Aggregate: p}}}
	}
	t.Run("no mongo backend", func(t *testing.T) {
		r := &stageRunner{maxRows: 10}
		_, err := r.run(context.Background(), stage("d", `[{"$match":{}}]`))
		if !errors.Is(err, ErrStage) || !strings.Contains(err.Error(), "mongo store backend") {
			t.Fatalf("got %v, want a refusal naming the mongo store backend", err)
		}
	})
	t.Run("create and train refused without the mongo backend", func(t *testing.T) {
		s, err := New(Options{Store: testStore(t), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		in := stage("d", `[{"$match":{}}]`)
		if _, err := s.Create(ModelParams{Name: "m", Input: in}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "store.backend mongo") {
			t.Fatalf("create: got %v, want an invalid-input error naming store.backend mongo", err)
		}
		d, err := s.Create(ModelParams{Name: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Train(d.ID, TrainParams{Input: in}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "input[0].mongo") {
			t.Fatalf("train: got %v, want an invalid-input error naming input[0].mongo", err)
		}
		if d, _ := s.Get(d.ID); d.Status != StatusUntrained {
			t.Errorf("status after the refused training: got %s, want untrained", d.Status)
		}
	})
	t.Run("missing aggregate", func(t *testing.T) {
		r := &stageRunner{mongoURI: "mongodb://127.0.0.1:1", maxRows: 10}
		_, err := r.run(context.Background(), stage("d", ""))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "aggregate") {
			t.Fatalf("got %v, want an invalid-input error naming aggregate", err)
		}
	})
	for _, tc := range []struct{ name, pipeline, want string }{
		{"not JSON", `[{"$match":`, "not a JSON array of stages"},
		{"an object, not an array", `{"$match":{}}`, "not a JSON array of stages"},
		{"a stage not a document", `[{"$match":{}}, "$sort"]`, "aggregate stage 1 is a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &stageRunner{mongoURI: "mongodb://127.0.0.1:1", maxRows: 10}
			_, err := r.run(context.Background(), stage("d", tc.pipeline))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-input error with %q", err, tc.want)
			}
		})
	}
	for _, srv := range mongoServers {
		t.Run(srv.name, func(t *testing.T) {
			uri, _ := srv.uri(t)
			db := mongotest.DatabaseName()
			seedValues(t, uri, db)
			r := &stageRunner{mongoURI: uri, maxRows: 10}
			for _, tc := range []struct{ name, pipeline, want string }{
				{"unknown stage operator", `[{"$nosuchstage":{}}]`, "aggregate " + db + ".values"},
				{"row without ds", `[{"$match":{"id":"TOTAL"}},{"$project":{"_id":0,"y":"$production"}}]`, "row 0 has no ds"},
				{"non-numeric column", `[{"$match":{"id":"TOTAL"}},{"$project":{"_id":0,"ds":1,"id":1}}]`, `column "id"`},
				{"more rows than maxRows", `[{"$project":{"_id":0,"ds":1,"y":1}}]`, "more than 10 rows"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := r.run(context.Background(), stage(db, tc.pipeline))
					if err == nil {
						t.Fatal("no error")
					}
					if !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("got %v, want %q in it", err, tc.want)
					}
				})
			}
		})
	}
}
