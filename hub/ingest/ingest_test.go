package ingest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type fixture struct {
	nc *nats.Conn
	js jetstream.JetStream
	st store.Store
	a  *Applier

	mu      sync.Mutex
	changes []store.Change
}

// batches is how many batches the applier has applied.
func (f *fixture) batches() uint64 { return f.a.Stats().Batches }

func setup(t *testing.T, edges []string) *fixture {
	t.Helper()
	return setupWith(t, edges, nil)
}

// storeLayer is a layer with the named collections.
func storeLayer(id string, collections ...string) store.Layer {
	l := store.Layer{ID: id}
	for _, c := range collections {
		l.Collections = append(l.Collections, store.Collection{Name: c})
	}
	return l
}

// setupWith is setup with options changed by opt (may be nil).
func setupWith(t *testing.T, edges []string, opt func(*Options)) *fixture {
	t.Helper()
	f := &fixture{nc: startNATS(t)}
	st := openBolt(t, storeLayer("site", "meters"))
	f.st = st
	ctx := context.Background()
	changes := func(c store.Change) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.changes = append(f.changes, c)
	}
	o := Options{Domain: "d", Edges: edges, ReservedLayer: func(l string) bool { return l == "system" },
		Changes: changes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if opt != nil {
		opt(&o)
	}
	var err error
	f.a, err = New(ctx, f.nc, st, o)
	if err != nil {
		t.Fatal(err)
	}
	f.js, _ = jetstream.New(f.nc)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.a.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func batchJSON(edge string, first uint64, n int, col string) []byte {
	b := model.Batch{Edge: edge, SeqFirst: first, SeqLast: first + uint64(n) - 1}
	ts := time.Now().UTC()
	for i := 0; i < n; i++ {
		b.Updates = append(b.Updates, model.MeasurementUpdate("site", col, "M1", ts,
			map[string]model.Measurement{"v": {Value: float64(first) + float64(i), Quality: 1, Timestamp: ts}}))
	}
	data, _ := json.Marshal(b)
	return data
}

// batchWire is batchJSON's batch as an agent sends it (shared/wire).
func batchWire(t *testing.T, edge string, first uint64, n int, col string) []byte {
	t.Helper()
	var b model.Batch
	if err := json.Unmarshal(batchJSON(edge, first, n, col), &b); err != nil {
		t.Fatal(err)
	}
	for i := range b.Updates {
		// as the agent has it: a measurement, not its JSON form
		m := b.Updates[i].Set["measurements.v"].(map[string]any)
		b.Updates[i].Set["measurements.v"] = model.Measurement{Value: m["value"], Quality: 1, Timestamp: b.Updates[i].TS}
	}
	var d wire.MemDict
	enc := make([][]byte, len(b.Updates))
	for i := range b.Updates {
		var err error
		if enc[i], err = wire.AppendUpdate(nil, &b.Updates[i], &d); err != nil {
			t.Fatal(err)
		}
	}
	data, err := wire.AppendBatch(nil, edge, first, enc, &d)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (f *fixture) publish(t *testing.T, edge string, data []byte, msgID string) *jetstream.PubAck {
	t.Helper()
	msg := nats.NewMsg(subject.Ingest("d", edge))
	msg.Data = data
	if msgID != "" {
		msg.Header.Set(nats.MsgIdHdr, msgID)
	}
	ack, err := f.js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAppliesAndDeduplicates(t *testing.T) {
	f := setup(t, []string{"e1"})
	f.publish(t, "e1", batchJSON("e1", 1, 3, "meters"), "e1:1-3")
	if ack := f.publish(t, "e1", batchJSON("e1", 1, 3, "meters"), "e1:1-3"); !ack.Duplicate {
		t.Fatal("the same Nats-Msg-Id was not reported as a duplicate")
	}
	// outside the de-dup window (no msg id): the high-water mark skips it
	f.publish(t, "e1", batchJSON("e1", 1, 3, "meters"), "")
	wait(t, "two batches applied", func() bool { return f.batches() == 2 })
	s := f.a.EdgeStats("e1")
	if s.Applied != 3 || s.Skipped != 3 || s.LastSeq != 3 {
		t.Fatalf("edge stats: %+v", s)
	}
	// the history of a replay is checked in hub/history (TestRecorder)
}

func TestDeadLetters(t *testing.T) {
	f := setup(t, []string{"e1", "e2"})
	cases := []struct {
		name, edge string
		data       []byte
		reason     string
	}{
		{"malformed JSON", "e1", []byte("{not json"), "malformed batch JSON"},
		{"unknown field", "e1", []byte(`{"edge":"e1","seq_first":1,"seq_last":1,"updates":[],"extra":1}`), "unknown field"},
		{"wrong edge", "e2", batchJSON("e1", 1, 1, "meters"), `published on the subject of edge "e2"`},
		{"missing collection", "e1", batchJSON("e1", 1, 1, "nope"), "not found"},
		{"reserved layer", "e1", reserved(batchJSON("e1", 1, 1, "meters")), `layer "system", which is reserved`},
		{"truncated binary batch", "e1", batchWire(t, "e1", 1, 2, "meters")[:40], "malformed binary batch"},
		{"neither format", "e2", []byte("hello"), "not a batch: 5 bytes starting 68 65 6C 6C"},
	}
	for _, c := range cases {
		f.publish(t, c.edge, c.data, "")
	}
	// a good batch after the bad ones is still applied: they never block
	f.publish(t, "e1", batchJSON("e1", 1, 1, "meters"), "")
	wait(t, "the good batch", func() bool { return f.batches() == 1 })
	wait(t, "dead letters", func() bool { return f.a.Stats().DeadLetters == uint64(len(cases)) })
	cons, err := f.js.OrderedConsumer(context.Background(), DeadLetterName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// edges are applied in parallel: match dead letters by their content
	reasons := map[string]string{}
	for range cases {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("reading dead letters: %v", err)
		}
		reasons[msg.Headers().Get(HeaderEdge)+" "+string(msg.Data())] = msg.Headers().Get(HeaderReason)
	}
	for _, c := range cases {
		r, ok := reasons[c.edge+" "+string(c.data)]
		if !ok {
			t.Errorf("%s: no dead letter carries the original batch", c.name)
		} else if !contains(r, c.reason) {
			t.Errorf("%s: reason %q does not say %q", c.name, r, c.reason)
		}
	}
}

// reserved rewrites a batch to write into layer system.
func reserved(data []byte) []byte {
	var b model.Batch
	_ = json.Unmarshal(data, &b)
	b.Updates[0].Layer = "system"
	out, _ := json.Marshal(b)
	return out
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// An edge whose batches cannot be applied right now does not hold up the others.
func TestEdgesProceedIndependently(t *testing.T) {
	f := setup(t, []string{"e1", "e2"})
	for i := 0; i < 5; i++ {
		f.publish(t, "e2", batchJSON("e2", uint64(i*2+1), 2, "meters"), "")
		f.publish(t, "e1", batchJSON("e1", uint64(i+1), 1, "meters"), "")
	}
	wait(t, "all batches", func() bool { return f.batches() == 10 })
	if s := f.a.EdgeStats("e2"); s.LastSeq != 10 || s.Applied != 10 || s.Missing != 0 {
		t.Fatalf("e2 stats: %+v", s)
	}
	if hwm, _ := f.st.HighWaterMark(context.Background(), "e1"); hwm != 5 {
		t.Fatalf("e1 high-water mark %d, want 5", hwm)
	}
}

// Agents send binary batches; older agents JSON ones: both apply, in
// sequence, and the documents each batch wrote are reported to Options.Changes.
func TestAppliesBinaryAndJSONBatches(t *testing.T) {
	f := setup(t, []string{"e1"})
	f.publish(t, "e1", batchWire(t, "e1", 1, 2, "meters"), "e1:1-2")
	f.publish(t, "e1", batchJSON("e1", 3, 1, "meters"), "e1:3-3")
	f.publish(t, "e1", batchWire(t, "e1", 4, 1, "meters"), "e1:4-4")
	wait(t, "three batches", func() bool { return f.batches() == 3 })
	if s := f.a.EdgeStats("e1"); s.Applied != 4 || s.LastSeq != 4 || s.Missing != 0 || s.DeadLetters != 0 {
		t.Fatalf("edge stats: %+v", s)
	}
	doc, err := f.st.Get(context.Background(), "site", "meters", "M1")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := doc["measurements"].(map[string]any)
	v, _ := m["v"].(map[string]any)
	if got, want := v["value"], 4.0; got != want {
		t.Errorf("measurements.v.value = %v, want %v (from the last, binary, batch)", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.changes) != 3 || f.changes[0].Op != store.OpInsert {
		t.Fatalf("%d change events, want an insert and two updates (one per batch and document): %+v", len(f.changes), f.changes)
	}
	for _, c := range f.changes {
		if c.Layer != "site" || c.Collection != "meters" || c.ID != "M1" {
			t.Errorf("change event %+v, want site/meters/M1", c)
		}
	}
}

// A hub upgraded from the shared INGEST stream applies what is left in it,
// then removes it, so that the edges' own streams can take their subjects.
func TestDrainsTheSharedStreamOfAnOlderHub(t *testing.T) {
	nc := startNATS(t)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamName, Subjects: []string{subject.IngestAll("d")},
		Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{batchJSON("e1", 1, 2, "meters"), batchJSON("e2", 1, 1, "meters")} {
		var m model.Batch
		_ = json.Unmarshal(b, &m)
		if _, err := js.Publish(ctx, subject.Ingest("d", m.Edge), b); err != nil {
			t.Fatal(err)
		}
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutLayer(ctx, storeLayer("site", "meters")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, nc, st, Options{Domain: "d", Edges: []string{"e1", "e2"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	for edge, want := range map[string]uint64{"e1": 2, "e2": 1} {
		if got, _ := st.HighWaterMark(ctx, edge); got != want {
			t.Errorf("%s: high-water mark %d after the drain, want %d", edge, got, want)
		}
	}
	if _, err := js.Stream(ctx, StreamName); err == nil {
		t.Error("the shared stream is still there")
	}
	for _, e := range []string{"e1", "e2"} {
		if _, err := js.Stream(ctx, EdgeStream(e)); err != nil {
			t.Errorf("stream of %s: %v", e, err)
		}
	}
}

// openBolt opens a bolt store in a temporary directory, closed when the
// test ends, holding layers.
func openBolt(t testing.TB, layers ...store.Layer) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, l := range layers {
		if err := st.PutLayer(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// openTSDB opens an embedded history in a temporary directory (48 h
// out-of-order window), closed when the test ends.
func openTSDB(t testing.TB) *history.TSDB {
	t.Helper()
	hist, err := history.OpenTSDB(history.TSDBOptions{Dir: t.TempDir(), OutOfOrderWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hist.Close() })
	return hist
}
