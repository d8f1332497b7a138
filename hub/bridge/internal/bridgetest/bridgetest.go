// Package bridgetest is the test bed the bridge packages share: an
// embedded NATS server with JetStream, a bolt store whose writes publish
// change events as the hub's do, a running outbound bridge, and a tally of
// delivered events that tells lost from duplicated ones.
package bridgetest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/subject"
)

// Domain is the domain of the test bed's subjects.
const Domain = "xflex"

// Env is an embedded NATS server and a bolt store.
type Env struct {
	// NC is connected to the server.
	NC *nats.Conn
	// Raw is the bolt store; Store is Raw publishing change events.
	Raw store.Store
	// Store: see Raw.
	Store store.Store
}

// New starts an Env that ends with the test.
func New(t testing.TB) *Env {
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
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	raw, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := &Env{NC: nc, Raw: raw}
	e.Store = store.WithChanges(raw, func(c store.Change) {
		b, _ := json.Marshal(c)
		_ = nc.Publish(subject.StorageChanged(Domain, c.Layer, c.Collection), b)
	})
	return e
}

// Layer creates a layer with collections.
func (e *Env) Layer(t testing.TB, id string, cols ...string) {
	t.Helper()
	l := store.Layer{ID: id, Label: id}
	for _, c := range cols {
		l.Collections = append(l.Collections, store.Collection{Name: c})
	}
	if err := e.Raw.PutLayer(context.Background(), l); err != nil {
		t.Fatal(err)
	}
}

// Write writes documents M<from>…M<to-1> into layer/col, one change
// event each, with measurements.power = i.
func (e *Env) Write(t testing.TB, layer, col string, from, to int) {
	t.Helper()
	for lo := from; lo < to; lo += 100 {
		hi := min(lo+100, to)
		docs := make([]store.Document, 0, hi-lo)
		for i := lo; i < hi; i++ {
			docs = append(docs, store.Document{"_id": "M" + strconv.Itoa(i),
				"measurements": map[string]any{"power": map[string]any{"value": float64(i), "quality": 1}}})
		}
		if _, err := e.Store.Bulk(context.Background(), layer, col, docs, false); err != nil {
			t.Fatal(err)
		}
	}
}

// StartOutbound ensures the bridges' stream for cfg's layers and runs an
// outbound bridge until stop is called or the test ends; it returns once
// the bridge's consumer exists.
func (e *Env) StartOutbound(t testing.TB, cfg bridge.Config, sink bridge.Sink) (o *bridge.Outbound, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := bridge.EnsureStream(ctx, e.NC, Domain, cfg.Layers, []string{cfg.Name}, 1); err != nil {
		t.Fatal(err)
	}
	o, err := bridge.NewOutbound(bridge.OutboundOptions{Config: cfg, NC: e.NC, Domain: Domain, Store: e.Raw, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("outbound bridge: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("outbound bridge: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return o, stop
}

// Tally counts delivered events by key.
type Tally struct {
	mu   sync.Mutex
	seen map[string]int
	ids  map[string]bool
	dups int
}

// NewTally makes an empty tally.
func NewTally() *Tally { return &Tally{seen: map[string]int{}, ids: map[string]bool{}} }

// Add records one delivered Event body; it returns an error when the body
// is not an Event.
func (ta *Tally) Add(body []byte) error {
	var ev bridge.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("delivered body is not an event: %w: %s", err, body)
	}
	if ev.Key == "" {
		return fmt.Errorf("delivered event has no key: %s", body)
	}
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.seen[ev.Key]++
	if ta.seen[ev.Key] > 1 {
		ta.dups++
	}
	ta.ids[ev.ID] = true
	return nil
}

// Distinct is how many distinct keys were delivered; Duplicates how many
// deliveries repeated a key; IDs how many distinct document ids.
func (ta *Tally) Distinct() (keys, duplicates, ids int) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return len(ta.seen), ta.dups, len(ta.ids)
}

// WaitIDs waits until n distinct document ids were delivered.
func (ta *Tally) WaitIDs(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, _, ids := ta.Distinct()
		if ids >= n {
			return
		}
		if time.Now().After(deadline) {
			keys, dups, _ := ta.Distinct()
			t.Fatalf("got %d distinct documents (%d keys, %d duplicates) after %s, want %d", ids, keys, dups, within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Eventually waits until cond holds.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
