package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// forecastJSON sends a JSON request and decodes the JSON answer into out.
func forecastJSON(t *testing.T, method, url string, body any, hdr map[string]string, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, raw, err)
	}
	return resp.StatusCode
}

// TestForecastFromMongoStage: a hub on the mongo store backend trains a
// model whose input is a mongo stage (an aggregate pipeline over a
// collection of its MongoDB, y with a temperature regressor) through its
// REST API, then forecasts with the regressor's future values from a
// second mongo stage.
func TestForecastFromMongoStage(t *testing.T) {
	uri, _ := mongotest.URI(t)
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	ctx := context.Background()

	// 14 days of hourly documents of the seed's shape, and 24 hours of
	// future temperatures; another id the pipeline filters out.
	dataDB := mongotest.DatabaseName()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = client.Database(dataDB).Drop(context.Background())
		_ = client.Disconnect(context.Background())
	}()
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	temp := func(i int) float64 { return 15 + 5*math.Sin(float64(i)/17) }
	want := func(i int) float64 { return 50 + 2*temp(i) + 10*math.Sin(2*math.Pi*float64(i%24)/24) }
	const hours = 14 * 24
	var docs, future []any
	for i := range hours + 24 {
		ts := start.Add(time.Duration(i) * time.Hour)
		if i >= hours {
			future = append(future, bson.D{{Key: "timestamp", Value: ts}, {Key: "temperature", Value: temp(i)}})
			continue
		}
		for _, id := range []string{"TOTAL", "OTHER"} {
			docs = append(docs, bson.D{{Key: "id", Value: id}, {Key: "timestamp", Value: ts},
				{Key: "production", Value: want(i)}, {Key: "temperature", Value: temp(i)}})
		}
	}
	if _, err := client.Database(dataDB).Collection("gridflex_values").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Database(dataDB).Collection("weather").InsertMany(ctx, future); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, t.TempDir())
	cfg.Store = StoreConfig{Backend: "mongo", MongoURI: uri, Database: mongotest.DatabaseName()}
	h, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := "http://" + h.HTTPAddr() + "/api/v2"
	_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}

	// The stage as a client sends it: uri left to the hub's store, the
	// pipeline as JSON text with an extended-JSON date.
	train := map[string]any{"mongo": map[string]any{
		"database": dataDB, "collection": "gridflex_values",
		"aggregate": `[{"$match":{"id":"TOTAL","timestamp":{"$gte":{"$date":"2024-03-01T00:00:00Z"}}}},
			{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":"$timestamp","y":"$production","temp":"$temperature"}}]`,
	}}
	var desc struct {
		ID                string     `json:"id"`
		Status            string     `json:"status"`
		Error             string     `json:"error"`
		Regressors        []string   `json:"regressors"`
		Rows              int        `json:"rows"`
		LastDataTimestamp *time.Time `json:"lastDataTimestamp"`
	}
	if code := forecastJSON(t, "POST", base+"/forecast/model", map[string]any{"name": "production", "input": []any{train}}, hdr, &desc); code != 200 || desc.ID == "" {
		t.Fatalf("create: %d %+v", code, desc)
	}
	if code := forecastJSON(t, "POST", base+"/forecast/model/"+desc.ID+"/train", map[string]any{}, hdr, &desc); code != 200 {
		t.Fatalf("train: %d %+v", code, desc)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for desc.Status != "trained" {
		if desc.Status == "error" || time.Now().After(deadline) {
			t.Fatalf("training: %+v", desc)
		}
		time.Sleep(50 * time.Millisecond)
		forecastJSON(t, "GET", base+"/forecast/model/"+desc.ID, nil, hdr, &desc)
	}
	last := start.Add((hours - 1) * time.Hour)
	if desc.Rows != hours || len(desc.Regressors) != 1 || desc.Regressors[0] != "temp" || desc.LastDataTimestamp == nil || !desc.LastDataTimestamp.Equal(last) {
		t.Fatalf("trained: got %+v, want %d rows, regressor temp, last %v", desc, hours, last)
	}

	future24 := map[string]any{"mongo": map[string]any{
		"database": dataDB, "collection": "weather",
		"aggregate": `[{"$sort":{"timestamp":1}},{"$project":{"_id":0,"ds":"$timestamp","temp":"$temperature"}}]`,
	}}
	var rows []struct {
		DS        time.Time `json:"ds"`
		Yhat      float64   `json:"yhat"`
		YhatLower float64   `json:"yhat_lower"`
		YhatUpper float64   `json:"yhat_upper"`
	}
	if code := forecastJSON(t, "POST", base+"/forecast/model/"+desc.ID+"/forecast",
		map[string]any{"periods": 24, "freq": "H", "input": []any{future24}}, hdr, &rows); code != 200 || len(rows) != 24 {
		t.Fatalf("forecast: %d, %d rows; want 200, 24 rows", code, len(rows))
	}
	for k, r := range rows {
		i := hours + k
		if !r.DS.Equal(start.Add(time.Duration(i) * time.Hour)) {
			t.Errorf("row %d: ds %v, want %v", k, r.DS, start.Add(time.Duration(i)*time.Hour))
		}
		if math.Abs(r.Yhat-want(i)) > 1.5 || r.YhatLower > r.Yhat || r.YhatUpper < r.Yhat {
			t.Errorf("row %d: got %.2f [%.2f, %.2f], want about %.2f inside its band", k, r.Yhat, r.YhatLower, r.YhatUpper, want(i))
		}
	}
}

// TestForecastMongoStageNeedsMongoBackend: a hub on its default store
// refuses a model whose input is a mongo stage, with a 400 naming the
// setting it needs.
func TestForecastMongoStageNeedsMongoBackend(t *testing.T) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	h, err := Start(context.Background(), testConfig(t, t.TempDir()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := "http://" + h.HTTPAddr() + "/api/v2"
	_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	stage := map[string]any{"mongo": map[string]any{"database": "d", "collection": "c", "aggregate": `[{"$match":{}}]`}}
	code, m := call(t, "POST", base+"/forecast/model", map[string]any{"name": "x", "input": []any{stage}}, hdr)
	if msg, _ := m["message"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "store.backend mongo") {
		t.Fatalf("got %d %v, want 400 naming store.backend mongo", code, m)
	}
}
