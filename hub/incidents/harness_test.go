package incidents

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
// writes publish change events, as the hub's writes do.
type env struct {
	t   testing.TB
	ns  *natsserver.Server
	nc  *nats.Conn
	raw store.Store
	st  store.Store
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
	e.st = store.WithChanges(raw, func(c store.Change) {
		b, _ := json.Marshal(c)
		_ = e.nc.Publish(subject.StorageChanged(domain, c.Layer, c.Collection), b)
	})
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

// layer writes the incidents layer with config.notify.
func (e *env) layer(notify map[string]any) {
	e.t.Helper()
	l := store.Layer{ID: "incidents", Label: "INCIDENTS", Config: map[string]any{"notify": notify},
		Collections: []store.Collection{{Name: "items", Geo: true, Label: "Incidents"}, {Name: "protocols"}}}
	if err := e.raw.PutLayer(context.Background(), l); err != nil {
		e.t.Fatal(err)
	}
}

// start runs a service on its own connection until the test ends (or
// stop is called) and waits until its work queue is in place.
func (e *env) start(cfg Config, opts Options) (s *Service, stop func()) {
	e.t.Helper()
	cfg.Enabled = true
	opts.Config, opts.Store, opts.NC, opts.Domain = cfg, e.st, e.connect(), domain
	s, err := New(opts)
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
	stop = func() {
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

func (e *env) insert(doc store.Document) {
	e.t.Helper()
	res, err := e.st.Insert(context.Background(), "incidents", "items", []store.Document{doc})
	if err != nil || res.Err > 0 {
		e.t.Fatalf("insert %v: %v %v", doc["_id"], err, res.Errors)
	}
}

func (e *env) get(id string) store.Document {
	e.t.Helper()
	d, err := e.raw.Get(context.Background(), "incidents", "items", id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitDoc waits until cond holds for incident id.
func (e *env) waitDoc(id string, cond func(store.Document) bool) store.Document {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d, err := e.raw.Get(context.Background(), "incidents", "items", id)
		if err == nil && cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("incident %s: condition not met after 15s: %v (%v)", id, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateIs(want string) func(store.Document) bool {
	return func(d store.Document) bool { return d[FieldState] == want }
}

// call is one request a recorder received.
type call struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// recorder is a local HTTP server that records calls and answers with the
// status its answer function gives (default 201).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []call
	answer func(n int) int
	got    chan call
}

func newRecorder(t testing.TB, answer func(n int) int) *recorder {
	r := &recorder{answer: answer, got: make(chan call, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		c := call{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: b}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		n := len(r.calls)
		r.mu.Unlock()
		status := http.StatusCreated
		if r.answer != nil {
			status = r.answer(n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"id":"proc-1"}`))
		r.got <- c
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// fast is a config with short retries for tests.
func fast() Config {
	return Config{Backoff: cfgDur(20 * time.Millisecond), MaxBackoff: cfgDur(100 * time.Millisecond), Timeout: cfgDur(5 * time.Second)}
}
