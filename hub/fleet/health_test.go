package fleet

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// runFleet runs a Fleet on nc and st with clock, checking for offline edges
// every 5ms, until the test ends; configure may change it before it runs.
func runFleet(t *testing.T, nc *nats.Conn, st store.Store, clock *fakeClock, configure ...func(*Fleet)) {
	t.Helper()
	f := New(nc, st, domain, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.now, f.every = clock.Now, 5*time.Millisecond
	for _, c := range configure {
		c(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := nc.Request(subject.FleetList(domain), nil, 200*time.Millisecond); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the fleet does not answer")
		}
	}
}

func fleetList(t *testing.T, nc *nats.Conn) []control.EdgeSummary {
	t.Helper()
	m, err := nc.Request(subject.FleetList(domain), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r control.FleetListReply
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Error != nil {
		t.Fatalf("fleet list %s: %v %v", m.Data, err, r.Error)
	}
	return r.Edges
}

// waitState waits until the fleet lists edge in state.
func waitState(t *testing.T, nc *nats.Conn, edge, state string) control.EdgeSummary {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range fleetList(t, nc) {
			if e.Edge == edge && e.State == state {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge %s is not %s: %+v", edge, state, fleetList(t, nc))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const agentHeartbeat = `{"edge":"e1","labels":{"site":"north"},"version":"1.4.0","uptime":120.5,"heartbeat_interval":1,
 "buffer":{"depth":12,"last_error":""},"oldest_unsent_age":3.5,"forwarder":{"last_error":""},
 "slaves":[{"name":"tcp://10.0.0.5:502#1","up":true},{"name":"tcp://10.0.0.6:502#2","up":false,"last_error":"i/o timeout"}],
 "map":{"version":"sha256:0123456789abcdef","pusher":"alice",
        "rolledBack":{"from":"sha256:bad","to":"sha256:0123456789abcdef","at":"2026-01-01T00:00:00Z","reason":"slave failed","automatic":true}}}`

func TestFleetHealth(t *testing.T) {
	nc, st := startNATS(t), openStore(t)
	clock := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	runFleet(t, nc, st, clock)
	seen := clock.Now()
	publish(t, nc, "e1", []byte(agentHeartbeat))
	got := waitState(t, nc, "e1", control.StateOnline)
	want := control.EdgeSummary{Edge: "e1", State: control.StateOnline, LastSeen: seen, Version: "1.4.0",
		MapVersion: "sha256:0123456789abcdef", MapPusher: "alice", Uptime: 120.5, BufferDepth: 12, OldestUnsentAge: 3.5,
		SlavesUp: 1, SlavesTotal: 2, LastError: "tcp://10.0.0.6:502#2: i/o timeout", Labels: map[string]string{"site": "north"}}
	if got.RolledBack == nil || !got.RolledBack.Automatic || got.RolledBack.From != "sha256:bad" {
		t.Errorf("rolledBack: %+v", got.RolledBack)
	}
	got.RolledBack = nil
	if !got.LastSeen.Equal(want.LastSeen) {
		t.Errorf("lastSeen %v, want %v", got.LastSeen, want.LastSeen)
	}
	got.LastSeen = want.LastSeen
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary\n got %+v\nwant %+v", got, want)
	}
	d := record(t, st, "e1", func(d store.Document) bool { return d["state"] == control.StateOnline })
	if labels, _ := d["labels"].(map[string]any); labels["site"] != "north" {
		t.Errorf("system/edges labels: %v", d["labels"])
	}
	if d["mapVersion"] != want.MapVersion || asFloat(d["bufferDepth"]) != 12 || asFloat(d["slavesUp"]) != 1 || d["version"] != "1.4.0" {
		t.Errorf("system/edges record: %v", d)
	}

	// within 3 intervals (1s each) the edge stays online, beyond it goes offline
	for _, step := range []struct {
		advance time.Duration
		state   string
	}{
		{2900 * time.Millisecond, control.StateOnline},
		{200 * time.Millisecond, control.StateOffline},
	} {
		clock.Add(step.advance)
		if step.state == control.StateOnline {
			time.Sleep(30 * time.Millisecond) // several offline checks
		}
		e := waitState(t, nc, "e1", step.state)
		if !e.LastSeen.Equal(seen) {
			t.Errorf("%s: lastSeen %v, want %v", step.state, e.LastSeen, seen)
		}
	}
	d = record(t, st, "e1", func(d store.Document) bool { return d["state"] == control.StateOffline })
	if at, _ := d["lastSeen"].(time.Time); !at.Equal(seen) {
		t.Errorf("offline record lastSeen %v, want %v", d["lastSeen"], seen)
	}

	// fleet status: the summary and the heartbeat as sent; an unknown edge is not found
	m, err := nc.Request(subject.FleetStatus(domain, "e1"), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var fs control.FleetStatusReply
	if err := json.Unmarshal(m.Data, &fs); err != nil || fs.Error != nil || fs.Edge.State != control.StateOffline || len(fs.Heartbeat) == 0 {
		t.Fatalf("fleet status: %s (%v)", m.Data, err)
	}
	m, err = nc.Request(subject.FleetStatus(domain, "nobody"), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Data, &fs); err != nil || fs.Error == nil || fs.Error.Code != control.CodeNotFound {
		t.Fatalf("status of an unknown edge: %s", m.Data)
	}

	// a heartbeat brings it back
	publish(t, nc, "e1", []byte(agentHeartbeat))
	waitState(t, nc, "e1", control.StateOnline)
}

// A restarted hub lists the edges it recorded before and marks the silent
// ones offline; an old heartbeat without heartbeat_interval counts with
// DefaultInterval.
func TestFleetRestartKeepsEdges(t *testing.T) {
	nc, st := startNATS(t), openStore(t)
	clock := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	if err := EnsureLayer(ctx, st, Collection); err != nil {
		t.Fatal(err)
	}
	old := store.Document{"_id": "e9", "heartbeat": map[string]any{"edge": "e9", "uptime": 3.0}, "receivedAt": clock.Now()}
	if _, err := st.Bulk(ctx, Layer, Collection, []store.Document{old}, false); err != nil {
		t.Fatal(err)
	}
	clock.Add(OfflineAfter*DefaultInterval - time.Second)
	runFleet(t, nc, st, clock)
	waitState(t, nc, "e9", control.StateOnline)
	clock.Add(2 * time.Second)
	waitState(t, nc, "e9", control.StateOffline)
}

// beatOnRead is a store on which another replica records a heartbeat of
// edge right after the offline check reads the edge's record: the
// interleaving of two hubs sharing one store.
type beatOnRead struct {
	store.Store
	edge string
	beat func()
}

func (s *beatOnRead) Get(ctx context.Context, layer, col, id string) (store.Document, error) {
	d, err := s.Store.Get(ctx, layer, col, id)
	if beat := s.beat; beat != nil && layer == Layer && col == Collection && id == s.edge {
		s.beat = nil
		beat()
	}
	return d, err
}

// A heartbeat stored by another replica between the offline check's read
// and its write keeps the edge online: the write is conditional on the
// deadline the read saw. Without a heartbeat the edge goes offline.
func TestHeartbeatDuringTheOfflineCheck(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if err := EnsureLayer(ctx, st, Collection); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	quiet := slog.New(slog.DiscardHandler)
	other := New(nil, st, domain, nil, quiet)
	other.now = clock.Now
	hb := &nats.Msg{Subject: subject.Heartbeat(domain, "e1"), Data: []byte(agentHeartbeat)}
	if err := other.record(ctx, hb); err != nil {
		t.Fatal(err)
	}
	clock.Add(3500 * time.Millisecond) // past 3 intervals of 1 s
	race := &beatOnRead{Store: st, edge: "e1", beat: func() {
		if err := other.record(ctx, hb); err != nil {
			t.Error(err)
		}
	}}
	f := New(nil, race, domain, nil, quiet)
	f.now = clock.Now
	f.markOffline(ctx)
	if race.beat != nil {
		t.Fatal("the offline check did not read the edge's record")
	}
	if d, err := st.Get(ctx, Layer, Collection, "e1"); err != nil || d["state"] != control.StateOnline || d["offlineAt"] == nil {
		t.Fatalf("after a heartbeat during the offline check: %v, %v; want online with its deadline", d, err)
	}
	clock.Add(3500 * time.Millisecond)
	f.markOffline(ctx)
	if d, err := st.Get(ctx, Layer, Collection, "e1"); err != nil || d["state"] != control.StateOffline {
		t.Fatalf("silent past its deadline: %v, %v; want offline", d, err)
	}
}
