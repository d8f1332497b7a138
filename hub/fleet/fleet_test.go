package fleet

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

const domain = "test"

// startNATS starts an in-process nats-server and connects to it.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openStore(t testing.TB) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// running starts a Fleet and waits until it listens; it stops, and Run
// must have returned nil, when the test ends.
func running(t *testing.T, applied func(string) ingest.EdgeStats) (*nats.Conn, *bolt.Store) {
	t.Helper()
	nc, st := startNATS(t), openStore(t)
	f := New(nc, st, domain, applied, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: got %v, want nil after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	// Ready once the high-water-mark responder answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := nc.Request(subject.EdgeControl(domain, "probe", subject.ActionHWM), nil, 200*time.Millisecond); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fleet does not answer")
		}
	}
	return nc, st
}

func publish(t *testing.T, nc *nats.Conn, edge string, data []byte) {
	t.Helper()
	if err := nc.Publish(subject.Heartbeat(domain, edge), data); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// record waits for the record of edge to satisfy ok and returns it.
func record(t *testing.T, st store.Store, edge string, ok func(store.Document) bool) store.Document {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := st.Get(context.Background(), Layer, Collection, edge)
		if err == nil && ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching record of edge %s: last %v, %v", edge, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func heartbeatOf(d store.Document) map[string]any {
	hb, _ := d["heartbeat"].(map[string]any)
	return hb
}

func asFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case uint64:
		return float64(n)
	}
	return -1
}

func TestHeartbeatsRecorded(t *testing.T) {
	stats := map[string]ingest.EdgeStats{"e1": {Batches: 3, Applied: 30, Skipped: 2, Missing: 1, DeadLetters: 4, Quarantined: 2, Refused: 1, LastSeq: 42, HistoryRefused: 5}}
	nc, st := running(t, func(edge string) ingest.EdgeStats { return stats[edge] })
	before := time.Now().UTC().Add(-time.Second)

	publish(t, nc, "e1", []byte(`{"edge":"e1","uptime":5,"buffer":{"pending":7}}`))
	d := record(t, st, "e1", func(d store.Document) bool { return asFloat(heartbeatOf(d)["uptime"]) == 5 })
	if hb := heartbeatOf(d); hb["edge"] != "e1" || asFloat(hb["buffer"].(map[string]any)["pending"]) != 7 {
		t.Errorf("heartbeat: got %v, want the edge's document as sent", hb)
	}
	if at, ok := d["receivedAt"].(time.Time); !ok || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("receivedAt: got %v, want about now", d["receivedAt"])
	}
	hub, _ := d["hub"].(map[string]any)
	want := map[string]float64{"batches": 3, "applied": 30, "skipped": 2, "missing": 1, "dead_letters": 4, "last_seq": 42, "quarantined": 2, "refused": 1, "history_refused": 5}
	for k, w := range want {
		if got := asFloat(hub[k]); got != w {
			t.Errorf("hub.%s: got %v, want %v", k, hub[k], w)
		}
	}

	// The latest heartbeat replaces the previous one; edges are kept apart.
	publish(t, nc, "e1", []byte(`{"edge":"e1","uptime":6}`))
	publish(t, nc, "e2", []byte(`{"edge":"e2","uptime":1}`))
	record(t, st, "e1", func(d store.Document) bool { return asFloat(heartbeatOf(d)["uptime"]) == 6 })
	d2 := record(t, st, "e2", func(d store.Document) bool { return heartbeatOf(d) != nil })
	if hub, _ := d2["hub"].(map[string]any); asFloat(hub["batches"]) != 0 {
		t.Errorf("e2 hub stats: got %v, want zeros", hub)
	}
	all, err := st.Find(context.Background(), Layer, Collection, store.FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range all {
		ids = append(ids, d["_id"].(string))
	}
	if !slices.Equal(ids, []string{"e1", "e2"}) {
		t.Errorf("edge records: got %v, want [e1 e2]", ids)
	}
}

func TestBadHeartbeatsIgnored(t *testing.T) {
	nc, st := running(t, nil)
	cases := []struct {
		name, edge string
		data       string
	}{
		{"not JSON", "e1", `uptime=5`},
		{"JSON array", "e1", `[1,2]`},
		{"no edge field", "e1", `{"uptime":5}`},
		{"another edge's subject", "e1", `{"edge":"e2","uptime":5}`},
	}
	for _, c := range cases {
		publish(t, nc, c.edge, []byte(c.data))
	}
	// Heartbeats are recorded in order: once a later valid one is stored,
	// the bad ones before it have been handled.
	publish(t, nc, "ok", []byte(`{"edge":"ok"}`))
	d := record(t, st, "ok", func(store.Document) bool { return true })
	if _, ok := d["hub"]; ok {
		t.Errorf("record without an applier: got hub %v, want none", d["hub"])
	}
	for _, c := range cases {
		for _, id := range []string{"e1", "e2"} {
			if _, err := st.Get(context.Background(), Layer, Collection, id); err == nil {
				t.Errorf("%s: a record of %s was stored", c.name, id)
			}
		}
	}
}

func TestHighWaterMark(t *testing.T) {
	nc, st := running(t, nil)
	ctx := context.Background()
	b := &model.Batch{Edge: "e1", SeqFirst: 1, SeqLast: 5}
	for i := range 5 {
		b.Updates = append(b.Updates, model.Update{Layer: "site", Collection: "devices", ID: "d1",
			Set: map[string]any{"n": i}, TS: time.Now().UTC()})
	}
	if _, err := st.ApplyBatch(ctx, b, store.ApplyOptions{CreateMissing: true}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		edge string
		want float64
	}{
		{"e1", 5},
		{"new-edge", 0},
	}
	for _, c := range cases {
		m, err := nc.Request(subject.EdgeControl(domain, c.edge, subject.ActionHWM), nil, 5*time.Second)
		if err != nil {
			t.Fatalf("request hwm of %s: %v", c.edge, err)
		}
		var resp map[string]any
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			t.Fatalf("answer %q: %v", m.Data, err)
		}
		if resp["edge"] != c.edge || asFloat(resp["hwm"]) != c.want || resp["error"] != nil {
			t.Errorf("hwm of %s: got %v, want edge %s hwm %v", c.edge, resp, c.edge, c.want)
		}
	}
}

func TestEnsureLayer(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		existing *store.Layer
		want     []string
	}{
		{"no system layer", nil, []string{Collection}},
		{"other collections kept", &store.Layer{ID: Layer, Collections: []store.Collection{{Name: "users"}, {Name: "tokens"}}}, []string{"users", "tokens", Collection}},
		{"already there", &store.Layer{ID: Layer, Collections: []store.Collection{{Name: Collection}, {Name: "apps"}}}, []string{Collection, "apps"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			if c.existing != nil {
				if err := st.PutLayer(ctx, *c.existing); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // idempotent
				if err := EnsureLayer(ctx, st, Collection); err != nil {
					t.Fatalf("EnsureLayer: %v", err)
				}
			}
			l, err := st.Layer(ctx, Layer)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, col := range l.Collections {
				got = append(got, col.Name)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("collections: got %v, want %v", got, c.want)
			}
		})
	}
}
