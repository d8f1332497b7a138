package fleet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/control"
)

// TestFleetJudgesOnlyItsEdges: a hub told it judges only e1 (in a
// supercluster, the edges of its own cluster) marks e1 offline when its
// heartbeats stop, and never e2, whose heartbeats may only be held up by a
// cut gateway: e2's record stays online.
func TestFleetJudgesOnlyItsEdges(t *testing.T) {
	nc, st := startNATS(t), openStore(t)
	clock := &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	runFleet(t, nc, st, clock, func(f *Fleet) { f.Judges = func(edge string) bool { return edge == "e1" } })
	publish(t, nc, "e1", []byte(agentHeartbeat))
	publish(t, nc, "e2", []byte(strings.Replace(agentHeartbeat, `"edge":"e1"`, `"edge":"e2"`, 1)))
	waitState(t, nc, "e1", control.StateOnline)
	waitState(t, nc, "e2", control.StateOnline)
	clock.Add(10 * time.Second) // 10 intervals without a heartbeat
	waitState(t, nc, "e1", control.StateOffline)
	time.Sleep(30 * time.Millisecond) // several more offline checks
	for _, e := range fleetList(t, nc) {
		if e.Edge == "e2" && e.State != control.StateOnline {
			t.Fatalf("e2, judged by another hub, listed %s", e.State)
		}
	}
	d, err := st.Get(context.Background(), Layer, Collection, "e2")
	if err != nil {
		t.Fatal(err)
	}
	if d["state"] != control.StateOnline {
		t.Fatalf("e2's record: state %v, want online", d["state"])
	}
}
