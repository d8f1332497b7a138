package vsensors

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/subject"
)

const domain = "xflex"

// env is an embedded NATS server with JetStream and a bolt store whose
// writes publish change events, as the hub's REST writes do.
type env struct {
	t     testing.TB
	ns    *natsserver.Server
	nc    *nats.Conn
	raw   store.Store // the bolt store
	st    store.Store // raw with change events
	mu    sync.Mutex
	wrote []string // output writes seen by recorder stores
	// onWrite sees output updates (benchmarks)
	onWrite func(id string, update map[string]any)
	// converter is given to the services started
	converter Converter
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
	e := &env{t: t, ns: ns}
	e.nc = e.connect()
	raw, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e.raw = raw
	e.st = store.WithChanges(raw, e.publish(e.nc))
	ctx := context.Background()
	if err := raw.PutLayer(ctx, store.Layer{ID: "gridflex", Collections: []store.Collection{{Name: "generators"}}}); err != nil {
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

func (e *env) publish(nc *nats.Conn) func(store.Change) {
	return func(c store.Change) {
		b, _ := json.Marshal(c)
		_ = nc.Publish(subject.StorageChanged(domain, c.Layer, c.Collection), b)
	}
}

// start runs a service on its own connection until the test ends.
func (e *env) start(cfg Config, instance string) *Service {
	e.t.Helper()
	nc := e.connect()
	cfg.Enabled = true
	s, err := New(Options{Config: cfg, Store: &recorder{Store: store.WithChanges(e.raw, e.publish(nc)), e: e, who: instance},
		NC: nc, Domain: domain, Instance: instance, Converter: e.converter})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Error(err)
		}
	})
	// subscribed once the output collections exist and the first tick ran
	e.waitFor("the service to start", func() bool { return e.subscribed(QueueGroup) })
	return s
}

// subscribed reports whether the queue group has a member on the server.
func (e *env) subscribed(group string) bool {
	sz, err := e.ns.Subsz(&natsserver.SubszOptions{Subscriptions: true, Test: subject.StorageChanged(domain, "gridflex", "generators")})
	if err != nil {
		return false
	}
	for _, s := range sz.Subs {
		if s.Queue == group {
			return true
		}
	}
	return false
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// put writes measurements of a generator as an edge batch would reach the
// store: measurements.<name> = {value, quality, timestamp}.
func (e *env) put(id string, ts time.Time, values map[string]float64) {
	e.t.Helper()
	set := map[string]any{"measurementsTimestamp": ts}
	for k, v := range values {
		set["measurements."+k] = map[string]any{"value": v, "quality": 1, "timestamp": ts}
	}
	ctx := context.Background()
	if _, err := e.st.UpdateByID(ctx, "gridflex", "generators", id, set); err != nil {
		doc := store.Document{"_id": id, "measurementsTimestamp": ts, "measurements": map[string]any{}}
		for k, v := range values {
			doc["measurements"].(map[string]any)[k] = map[string]any{"value": v, "quality": 1, "timestamp": ts}
		}
		if _, err := e.st.Insert(ctx, "gridflex", "generators", []store.Document{doc}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) get(layer, col, id string) store.Document {
	d, err := e.raw.Get(context.Background(), layer, col, id)
	if err != nil {
		return nil
	}
	return d
}

// recorder is the service's store: the real one, noting which instance
// wrote which output.
type recorder struct {
	store.Store
	e   *env
	who string
}

// onWrite, when set, sees every output update the services write.
func (e *env) setOnWrite(f func(id string, update map[string]any)) {
	e.mu.Lock()
	e.onWrite = f
	e.mu.Unlock()
}

func (r *recorder) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	changed, err := r.Store.UpdateByID(ctx, layer, col, id, update)
	if err == nil && layer == "gridflex" && col == "loads" {
		r.e.mu.Lock()
		r.e.wrote = append(r.e.wrote, r.who+":"+id)
		f := r.e.onWrite
		r.e.mu.Unlock()
		if f != nil {
			f(id, update)
		}
	}
	return changed, err
}

func (r *recorder) Insert(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res, err := r.Store.Insert(ctx, layer, col, docs)
	if err == nil && layer == "gridflex" && col == "loads" {
		r.e.mu.Lock()
		for _, id := range res.IDs {
			r.e.wrote = append(r.e.wrote, r.who+":"+id)
		}
		r.e.mu.Unlock()
	}
	return res, err
}

func (e *env) writes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.wrote...)
}

// measurement reads measurements.<name> of a document.
func measurement(d store.Document, name string) map[string]any {
	ms, _ := d["measurements"].(map[string]any)
	m, _ := ms[name].(map[string]any)
	return m
}
