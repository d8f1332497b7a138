package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// TestTwoHubsOneWriterPerHeartbeat: two fleets (two hubs) on one NATS
// server, one store and one history. Each heartbeat is recorded once,
// its history points stamped with the heartbeat's own time; the record's
// ingest counters are the sum of the two hubs' (each applied some of e1's
// batches, neither e2's); either hub lists and tells the status of both
// edges; going offline records online 0 once, at the moment the edge
// became offline.
func TestTwoHubsOneWriterPerHeartbeat(t *testing.T) {
	nc, st := startNATS(t), openStore(t)
	db, err := history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(t.TempDir(), "history")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Now().UTC().Truncate(time.Second)
	clock := &fakeClock{t: start}
	stats := map[string]map[string]ingest.EdgeStats{
		"hub-a": {"e1": {Batches: 3, Applied: 30, Skipped: 1, LastSeq: 30}},
		"hub-b": {"e1": {Batches: 2, Applied: 20, Missing: 2, LastSeq: 52}},
	}
	hist := &countingAppender{Appender: db}
	conns := map[string]*nats.Conn{}
	for _, hub := range []string{"hub-a", "hub-b"} {
		c, err := nats.Connect(nc.ConnectedUrl())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		conns[hub] = c
		runFleetOn(t, c, st, clock, func(f *Fleet) {
			f.Instance, f.History = hub, hist
			f.applied = func(edge string) ingest.EdgeStats { return stats[hub][edge] }
		})
	}

	waitAnswer(t, nc)
	// heartbeats of e1, 1 s apart, until both hubs' counters are in the
	// record (each hub gets some of the heartbeats)
	var sent []time.Time
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * time.Second).Add(137 * time.Millisecond)
		sent = append(sent, at)
		publish(t, nc, "e1", fmt.Appendf(nil, `{"edge":"e1","time":%q,"uptime":%d,"heartbeat_interval":1}`, at.Format(time.RFC3339Nano), 100+i))
		d := record(t, st, "e1", func(d store.Document) bool { return asFloat(heartbeatOf(d)["uptime"]) == float64(100+i) })
		clock.Add(time.Second)
		hub, _ := d["hub"].(map[string]any)
		if asFloat(hub["batches"]) == 5 {
			if asFloat(hub["applied"]) != 50 || asFloat(hub["skipped"]) != 1 || asFloat(hub["missing"]) != 2 || asFloat(hub["last_seq"]) != 52 {
				t.Errorf("e1 hub counters: got %v, want the two hubs' summed (last_seq their maximum)", hub)
			}
			hubs, _ := d["hubs"].(map[string]any)
			if a, _ := hubs["hub-a"].(map[string]any); asFloat(a["batches"]) != 3 {
				t.Errorf("hubs.hub-a: got %v, want its own counters", hubs["hub-a"])
			}
			break
		}
		if i == 40 {
			t.Fatalf("after %d heartbeats the record's counters are %v, want both hubs' summed (batches 5)", i+1, hub)
		}
	}
	publish(t, nc, "e2", []byte(`{"edge":"e2","uptime":1,"heartbeat_interval":1}`))
	d2 := record(t, st, "e2", func(d store.Document) bool { return heartbeatOf(d) != nil })
	if hub, _ := d2["hub"].(map[string]any); asFloat(hub["batches"]) != 0 {
		t.Errorf("e2 hub counters: got %v, want zeros (applied by neither hub)", hub)
	}
	if _, ok := d2["hubs"]; ok {
		t.Errorf("e2 hubs: got %v, want none: no hub applied e2", d2["hubs"])
	}

	// each heartbeat once in the history, at its own time
	want := int64(len(sent)) + 1
	for deadline := time.Now().Add(10 * time.Second); hist.appends.Load() < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := hist.appends.Load(); n != want {
		t.Errorf("history appends: got %d, want one per heartbeat (%d of e1, 1 of e2)", n, len(sent)+1)
	}
	ps := points(t, db, "measurements.uptime", start, start.Add(time.Hour))
	if len(ps) != len(sent) {
		t.Fatalf("uptime points: got %d %v, want one per heartbeat (%d)", len(ps), ps, len(sent))
	}
	for i, p := range ps {
		if !p.Time().Equal(sent[i]) || p.V != float64(100+i) {
			t.Errorf("point %d: %v at %v, want %d at the heartbeat's time %v", i, p.V, p.Time(), 100+i, sent[i])
		}
	}

	// either hub answers, from the store
	for hub, c := range conns {
		if edges := fleetList(t, c); len(edges) != 2 || edges[0].Edge != "e1" || edges[1].Edge != "e2" {
			t.Errorf("fleet list via %s: got %+v, want e1 and e2", hub, edges)
		}
		m, err := c.Request(subject.FleetStatus(domain, "e1"), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var fs control.FleetStatusReply
		if err := json.Unmarshal(m.Data, &fs); err != nil || fs.Error != nil || asFloat(fs.Hub["batches"]) != 5 {
			t.Errorf("fleet status of e1 via %s: %s (%v), want the summed counters", hub, m.Data, err)
		}
	}

	// silent e1 goes offline: online 0 once, when it became offline
	last := sent[len(sent)-1]
	lastSeen := record(t, st, "e1", func(store.Document) bool { return true })["lastSeen"].(time.Time)
	clock.Add(10 * time.Second)
	waitState(t, nc, "e1", control.StateOffline)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := points(t, db, "measurements.online", start, start.Add(time.Hour))
		if len(ps) == len(sent)+1 {
			if p := ps[len(ps)-1]; p.V != 0 || !p.Time().Equal(lastSeen.Add(OfflineAfter*time.Second)) {
				t.Errorf("offline point: %v at %v, want 0 at %v (3 intervals after the last heartbeat, received at %v; sent %v)", p.V, p.Time(), lastSeen.Add(OfflineAfter*time.Second), lastSeen, last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("online points: %v, want %d ones and a 0", ps, len(sent))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runFleetOn runs a Fleet on nc and st like runFleet, without waiting for
// an answer of its own (several run on one server).
func runFleetOn(t *testing.T, nc *nats.Conn, st store.Store, clock *fakeClock, configure func(*Fleet)) {
	t.Helper()
	f := New(nc, st, domain, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.now, f.every = clock.Now, 5*time.Millisecond
	configure(f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitAnswer waits until a fleet answers on nc.
func waitAnswer(t *testing.T, nc *nats.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := nc.Request(subject.FleetList(domain), nil, 200*time.Millisecond); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no fleet answers")
		}
	}
}

// countingAppender counts the appends to the history it passes them to.
type countingAppender struct {
	history.Appender
	appends atomic.Int64
}

func (c *countingAppender) Append(ctx context.Context, samples []history.Sample) (history.AppendResult, error) {
	c.appends.Add(1)
	return c.Appender.Append(ctx, samples)
}
