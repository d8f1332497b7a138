package alerts

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

const domain = "xflex"

// env is an embedded NATS server with JetStream, a bolt store whose
// measurement writes enter an embedded TSDB history and whose writes
// publish change events, as in the hub, and a settable clock.
type env struct {
	t    testing.TB
	ns   *natsserver.Server
	nc   *nats.Conn
	raw  store.Store
	st   store.Store
	hist *history.TSDB

	mu  sync.Mutex
	now time.Time
	// realTime makes clock time.Now (benchmarks)
	realTime bool
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	e := &env{t: t, ns: ns, now: time.Now().UTC().Truncate(time.Millisecond)}
	e.nc = e.connect()
	raw, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e.hist, err = history.OpenTSDB(history.TSDBOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.hist.Close() })
	e.raw = raw
	rec := history.NewRecorder(raw, e.hist, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.st = store.WithChanges(rec, func(c store.Change) {
		b, _ := json.Marshal(c)
		_ = e.nc.Publish(subject.StorageChanged(domain, c.Layer, c.Collection), b)
	})
	if err := raw.PutLayer(context.Background(), store.Layer{ID: "demo", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) connect() *nats.Conn {
	nc, err := nats.Connect(e.ns.ClientURL())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	return nc
}

// clock is the services' clock.
func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.realTime {
		return time.Now()
	}
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// write sets a measurement of demo/meters/<id> at the clock's time,
// creating the document when missing.
func (e *env) write(id, name string, v float64) {
	e.t.Helper()
	ctx := context.Background()
	m := map[string]any{"value": v, "quality": 1, "timestamp": e.clock()}
	if _, err := e.st.UpdateByID(ctx, "demo", "meters", id, map[string]any{"measurements." + name: m}); err == nil {
		return
	}
	res, err := e.st.Insert(ctx, "demo", "meters", []store.Document{{"_id": id, "measurements": map[string]any{name: m}}})
	if err != nil || res.Err > 0 {
		e.t.Fatalf("write %s: %v %v", id, err, res.Errors)
	}
}

// start runs a service until the test ends, on its own connection.
func (e *env) start(cfg Config, instance string) (*Service, func()) {
	e.t.Helper()
	cfg.Enabled = true
	if cfg.Tick == 0 {
		cfg.Tick = config.Duration(20 * time.Millisecond)
		cfg.Lease = config.Duration(2 * time.Second)
	}
	s, err := New(Options{Config: cfg, Store: e.st, History: e.hist, NC: e.connect(), Domain: domain, Instance: instance, Now: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ready) }()
	select {
	case <-ready:
	case err := <-done:
		e.t.Fatalf("Run: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return s, stop
}

// incidents are the incident documents of rule, oldest first.
func (e *env) incidents(rule string) []store.Document {
	e.t.Helper()
	sel, _ := query.CompileSelector(map[string]any{"details.rule": rule})
	sort, _ := query.ParseSortJSON([]byte(`{"timestamp": 1}`))
	docs, err := e.raw.Find(context.Background(), "incidents", "items", store.FindOptions{Selector: sel, Sort: sort})
	if err != nil {
		e.t.Fatal(err)
	}
	return docs
}

// waitFor waits until cond holds.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// statuses lists the status of each incident of rule.
func (e *env) statuses(rule string) []string {
	var out []string
	for _, d := range e.incidents(rule) {
		s, _ := d[FieldStatus].(string)
		out = append(out, s)
	}
	return out
}
