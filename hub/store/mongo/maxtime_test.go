package mongo

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/hub/store/query"
)

// queryCommand is a command the store sent that runs a query on the server.
type queryCommand struct {
	name      string
	maxTimeMS int64 // 0: absent
}

// commandLog records the query commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []queryCommand
}

func (l *commandLog) started(_ context.Context, e *event.CommandStartedEvent) {
	switch e.CommandName {
	case "find", "aggregate", "count", "findAndModify", "distinct":
	default:
		return
	}
	var ms int64
	if v, err := e.Command.LookupErr("maxTimeMS"); err == nil {
		ms, _ = v.AsInt64OK()
	}
	l.mu.Lock()
	l.cmds = append(l.cmds, queryCommand{e.CommandName, ms})
	l.mu.Unlock()
}

// take returns the commands recorded since the last call.
func (l *commandLog) take() []queryCommand {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.cmds
	l.cmds = nil
	return out
}

// TestMaxTimeOnEveryQuery checks that every query the store sends carries
// maxTimeMS: the store's cap without a context deadline, the time left
// with one. mongo-java-server ignores maxTimeMS (its source has no
// mention of it), so the test inspects the commands with a CommandMonitor
// instead of running a backtracking $regex against the server.
func TestMaxTimeOnEveryQuery(t *testing.T) {
	uri, _ := server(t)
	log := &commandLog{}
	ctx0, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(ctx0, options.Client().ApplyURI(uri).SetMonitor(&event.CommandMonitor{Started: log.started}))
	if err != nil {
		t.Fatal(err)
	}
	const limit = 3 * time.Second
	st := New(client, mongotest.DatabaseName(), WithMaxQueryTime(limit))
	t.Cleanup(func() {
		_ = st.Database().Drop(context.Background())
		_ = client.Disconnect(context.Background())
	})
	ctx := context.Background()
	if err := st.PutLayer(ctx, store.Layer{ID: "demo", Collections: []store.Collection{{Name: "meters"}, {Name: "sites", Geo: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Insert(ctx, "demo", "meters", []store.Document{{"_id": "a", "name": "aaaa"}, {"_id": "b", "name": "b"}}); err != nil {
		t.Fatal(err)
	}
	// GridFS's own queries while uploading (its index check) are the
	// driver's, with a fixed filter: PutFile is left out.
	if _, err := st.PutFile(ctx, "", store.FileInfo{ID: "f1"}, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	sel, err := query.CompileSelector(map[string]any{"name": map[string]any{"$regex": "^(a+)+$"}})
	if err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"Find", func(ctx context.Context) error {
			_, err := st.Find(ctx, "demo", "meters", store.FindOptions{Selector: sel})
			return err
		}},
		{"Count", func(ctx context.Context) error { _, err := st.Count(ctx, "demo", "meters", sel); return err }},
		{"Get", func(ctx context.Context) error { _, err := st.Get(ctx, "demo", "meters", "a"); return err }},
		{"Range", func(ctx context.Context) error {
			_, err := st.Range(ctx, "demo", "meters", "timestamp", time.Time{}, time.Now(), store.FindOptions{Selector: sel})
			return err
		}},
		{"Near", func(ctx context.Context) error {
			_, err := st.Near(ctx, "demo", "sites", 0, 0, 1, store.FindOptions{Selector: sel})
			return err
		}},
		{"UpdateByID", func(ctx context.Context) error {
			_, err := st.UpdateByID(ctx, "demo", "meters", "b", map[string]any{"x": 1.0})
			return err
		}},
		{"UpdateMany", func(ctx context.Context) error {
			_, err := st.UpdateMany(ctx, "demo", "meters", []store.Document{{"_id": "b", "x": 2.0}})
			return err
		}},
		{"Bulk", func(ctx context.Context) error {
			_, err := st.Bulk(ctx, "demo", "meters", []store.Document{{"_id": "b", "x": 3.0}, {"_id": "c"}}, false)
			return err
		}},
		{"DeleteMany", func(ctx context.Context) error {
			_, err := st.DeleteMany(ctx, "demo", "meters", sel)
			return err
		}},
		{"Layers", func(ctx context.Context) error { _, err := st.Layers(ctx); return err }},
		{"StatFile", func(ctx context.Context) error { _, err := st.StatFile(ctx, "", "f1"); return err }},
		{"ListFiles", func(ctx context.Context) error { _, err := st.ListFiles(ctx, ""); return err }},
	}
	for _, op := range ops {
		for _, withDeadline := range []bool{false, true} {
			name := op.name + "/cap"
			want := limit
			runCtx := context.Background()
			if withDeadline {
				name = op.name + "/deadline"
				want = time.Second
				var cancel context.CancelFunc
				runCtx, cancel = context.WithTimeout(runCtx, want)
				defer cancel()
			}
			t.Run(name, func(t *testing.T) {
				log.take()
				if err := op.run(runCtx); err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
				cmds := log.take()
				if len(cmds) == 0 {
					t.Fatalf("%s sent no query command", op.name)
				}
				for _, c := range cmds {
					got := time.Duration(c.maxTimeMS) * time.Millisecond
					if c.maxTimeMS <= 0 || got > want || (!withDeadline && got != want) {
						t.Errorf("%s: %s command with maxTimeMS %d, want %d ms or less (exactly %d without a deadline)",
							op.name, c.name, c.maxTimeMS, want.Milliseconds(), want.Milliseconds())
					}
				}
			})
		}
	}
}

func TestMaxTimeOption(t *testing.T) {
	tests := []struct {
		name string
		opt  time.Duration
		ctx  time.Duration // deadline from now; 0: none
		want time.Duration // upper bound of maxTime
		min  time.Duration // lower bound
	}{
		{"default", 0, 0, DefaultMaxQueryTime, DefaultMaxQueryTime},
		{"configured", 2 * time.Second, 0, 2 * time.Second, 2 * time.Second},
		{"deadline shorter", 2 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond, 400 * time.Millisecond},
		{"deadline longer", 2 * time.Second, time.Minute, 2 * time.Second, 2 * time.Second},
		{"deadline passed", 2 * time.Second, -time.Second, time.Millisecond, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{maxQuery: DefaultMaxQueryTime}
			WithMaxQueryTime(tt.opt)(s)
			ctx := context.Background()
			if tt.ctx != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			if got := s.maxTime(ctx); got > tt.want || got < tt.min {
				t.Fatalf("got %v, want between %v and %v", got, tt.min, tt.want)
			}
		})
	}
}
