package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/history"
)

// Fault injection: each scenario ends by comparing what the simulator served
// (its pollCount register counts reads: each poll gets the next number) with
// the hub's history: no reading that was committed to the edge buffer is
// missing, none is duplicated, and the order holds.

const faultPeriod = 0.05 // poll every 50 ms

// timeoutSlack is how many poll-counter values may go missing because a
// read timed out after the simulator had answered (a loaded CI machine);
// committed readings are checked exactly, by sequence number, in drain.
const timeoutSlack = 3

// drain waits until everything the agent buffered has reached the hub: the
// simulator is stopped, so the agent's next poll fails and it writes one
// bad-quality update; updates of one edge apply in order, so when that one
// is in the hub every earlier one is too.
//
// It then checks, with sequence numbers (assigned when an update is
// committed to the edge buffer), that no committed update is missing: the
// hub's last applied sequence number is the agent's last committed one, and
// the only sequence numbers the hub never received are the ones the agent
// reports as dropped by its overflow policy.
func (s *stack) drain(t *testing.T) {
	t.Helper()
	s.sim.stop(t)
	eventually(t, 90*time.Second, 100*time.Millisecond, "the agent's backlog to reach the hub", func() bool {
		q, err := s.quality("meters", "M1", "pollCount")
		return err == nil && q == 0
	})
	var last string
	eventually(t, 30*time.Second, 100*time.Millisecond, "the hub's sequence accounting to match the agent's", func() bool {
		var resp struct {
			Data map[string]any `json:"data"`
		}
		if code, err := s.get("/api/v2/system/edges/edge1", &resp); err != nil || code != 200 {
			return false
		}
		hb, _ := resp.Data["heartbeat"].(map[string]any)
		buf, _ := hb["buffer"].(map[string]any)
		hub, _ := resp.Data["hub"].(map[string]any)
		next, _ := buf["next_seq"].(float64)
		depth, _ := buf["depth"].(float64)
		dropped, _ := buf["dropped"].(float64)
		lastSeq, _ := hub["last_seq"].(float64)
		missing, _ := hub["missing"].(float64)
		last = fmt.Sprintf("agent: next_seq %v, depth %v, dropped %v; hub: last_seq %v, missing %v", next, depth, dropped, lastSeq, missing)
		return depth == 0 && lastSeq == next-1 && missing == dropped
	})
	t.Log(last)
	s.agent.stop(t)
	s.hub.stop(t)
}

// quality returns measurements.<name>.quality of a document.
func (s *stack) quality(col, id, name string) (float64, error) {
	var resp struct {
		Data map[string]any `json:"data"`
	}
	code, err := s.get("/api/v2/site/"+col+"/"+id, &resp)
	if err != nil || code != 200 {
		return -1, fmt.Errorf("GET %s/%s: status %d, %v", col, id, code, err)
	}
	ms, _ := resp.Data["measurements"].(map[string]any)
	m, _ := ms[name].(map[string]any)
	q, ok := m["quality"].(float64)
	if !ok {
		return -1, fmt.Errorf("no quality for %s", name)
	}
	return q, nil
}

// served returns the good pollCount values of meter M1 in the hub's history, in time order.
func (s *stack) served(t *testing.T) []int {
	t.Helper()
	return s.servedOf(t, "meters", "M1")
}

// servedOf returns the good pollCount values of one document in the hub's history.
func (s *stack) servedOf(t *testing.T, col, id string) []int {
	t.Helper()
	db, err := history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(s.dir, "hub", "history")})
	if err != nil {
		t.Fatalf("open the hub's history: %v", err)
	}
	defer db.Close()
	var out []int
	err = db.Select(context.Background(), history.Query{Layer: "site", Collection: col, IDs: []string{id}, Fields: []string{"measurements.pollCount"}},
		func(se history.Series) error {
			for p := range se.Points {
				if p.Q != 1 {
					continue
				}
				if p.Kind != history.KindNumber {
					return fmt.Errorf("history point %+v has no numeric value", p)
				}
				out = append(out, int(p.V))
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExactlyOnce asserts no duplicates and increasing order of the poll
// counters in the hub's history, and at most allowedMissing counter values
// missing between 1 and the last one. A missing counter value is a poll whose
// reading was never committed (a kill -9 between read and commit, or a
// read that timed out after the device answered); committed readings are
// checked by sequence number in drain. It returns how many are missing.
func checkExactlyOnce(t *testing.T, vals []int, allowedMissing int) int {
	t.Helper()
	if len(vals) < 10 {
		t.Fatalf("only %d readings reached the hub", len(vals))
	}
	seen := map[int]bool{}
	for i, v := range vals {
		if seen[v] {
			t.Fatalf("reading %d is in the hub's history twice", v)
		}
		seen[v] = true
		if i > 0 && v < vals[i-1] {
			t.Fatalf("readings out of order: %d after %d", v, vals[i-1])
		}
	}
	last := vals[len(vals)-1]
	missing := last - len(vals)
	if missing > allowedMissing {
		var gaps []int
		for v := 1; v <= last && len(gaps) < 20; v++ {
			if !seen[v] {
				gaps = append(gaps, v)
			}
		}
		t.Fatalf("%d of %d readings are missing (allowed %d); first missing: %v", missing, last, allowedMissing, gaps)
	}
	t.Logf("%d readings, %d missing (allowed %d), no duplicates, in order", len(vals), missing, allowedMissing)
	return missing
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection test runs the binaries; skipped with -short")
	}
}

// Scenario 1 (and 4's blunt form): the hub is stopped for a while and later
// killed with SIGKILL; the backlog drains and nothing is lost or doubled.
func TestFaultHubOutageAndKill(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: faultPeriod})
	time.Sleep(time.Second)
	s.hub.stop(t)
	time.Sleep(2 * time.Second) // the agent buffers
	s.restartHub(t)
	time.Sleep(1500 * time.Millisecond)
	s.hub.kill()
	time.Sleep(time.Second)
	s.restartHub(t)
	time.Sleep(time.Second)
	s.drain(t)
	checkExactlyOnce(t, s.served(t), timeoutSlack)
}

// Scenario 2: kill -9 of the agent at random moments while polling and
// forwarding. A kill may lose only the poll in flight (read from the device
// but not yet committed to the buffer): at most one reading per kill.
func TestFaultAgentKill9(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: faultPeriod})
	const trials = 6
	for i := 0; i < trials; i++ {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		s.agent.kill()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		s.agent = start(t, "gridedge-agent", s.agentArgs...)
	}
	time.Sleep(time.Second)
	s.drain(t)
	checkExactlyOnce(t, s.served(t), trials+timeoutSlack)
}

// Scenario 3: the leaf link is cut, flaps, is slowed and black-holed.
func TestFaultLeafLink(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: faultPeriod, proxy: true})
	time.Sleep(time.Second)
	steps := []struct {
		mode  string
		delay time.Duration
		hold  time.Duration
	}{
		{"cut", 0, 1500 * time.Millisecond},
		{"pass", 0, 500 * time.Millisecond},
		{"cut", 0, 200 * time.Millisecond}, {"pass", 0, 200 * time.Millisecond},
		{"cut", 0, 200 * time.Millisecond}, {"pass", 0, 200 * time.Millisecond},
		{"cut", 0, 200 * time.Millisecond}, {"pass", 0, 300 * time.Millisecond},
		{"slow", 50 * time.Millisecond, 2 * time.Second},
		{"blackhole", 0, 3 * time.Second},
		{"cut", 0, 100 * time.Millisecond}, // the black-holed connection is dead: drop it
		{"pass", 0, time.Second},
	}
	for _, st := range steps {
		s.proxy.set(st.mode, st.delay)
		time.Sleep(st.hold)
	}
	s.drain(t)
	checkExactlyOnce(t, s.served(t), timeoutSlack)
}

// Scenario 4: the hub dies after committing a batch and before acknowledging
// it (a failpoint makes it exit exactly there); JetStream redelivers the
// batch and the high-water mark makes the replay change nothing.
func TestFaultHubCrashBetweenApplyAndAck(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: faultPeriod, hubEnv: []string{"GRIDEDGE_FAILPOINT_EXIT_AFTER_APPLY=5"}})
	select {
	case <-s.hub.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the failpoint did not stop the hub")
	}
	if code := s.hub.cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("hub exit code %d, want 3 from the failpoint", code)
	}
	time.Sleep(500 * time.Millisecond)
	s.restartHub(t)
	time.Sleep(2 * time.Second)
	s.drain(t)
	checkExactlyOnce(t, s.served(t), timeoutSlack)
}

// Scenario 5: the buffer bound is reached during a long outage; the
// drop-oldest policy drops exactly as many updates as are missing at the hub:
// the agent's drop count (in its heartbeat) equals the sequence numbers the
// hub never received, and no reading arrives twice.
func TestFaultBufferBound(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: faultPeriod, proxy: true,
		agentYAML: "buffer: {maxUpdates: 40, overflow: drop-oldest}"})
	time.Sleep(time.Second)
	s.proxy.set("cut", 0)
	time.Sleep(3 * time.Second) // ~120 updates from two slaves into a 40-update buffer
	s.proxy.set("pass", 0)
	var dropped, missing float64
	eventually(t, 60*time.Second, 200*time.Millisecond, "the hub to account for every dropped update", func() bool {
		var resp struct {
			Data map[string]any `json:"data"`
		}
		if code, err := s.get("/api/v2/system/edges/edge1", &resp); err != nil || code != 200 {
			return false
		}
		hb, _ := resp.Data["heartbeat"].(map[string]any)
		buf, _ := hb["buffer"].(map[string]any)
		hub, _ := resp.Data["hub"].(map[string]any)
		dropped, _ = buf["dropped"].(float64)
		missing, _ = hub["missing"].(float64)
		return dropped > 0 && missing == dropped
	})
	t.Logf("agent dropped %v updates; the hub is missing exactly %v sequence numbers", dropped, missing)
	s.drain(t)
	// every reading the hub has arrived once and in order; what is missing
	// from both documents is at most what was dropped
	lost := checkExactlyOnce(t, s.servedOf(t, "meters", "M1"), int(dropped)+timeoutSlack) +
		checkExactlyOnce(t, s.servedOf(t, "hvac", "SENSOR_ABC"), int(dropped)+timeoutSlack)
	if lost == 0 || lost > int(dropped)+2*timeoutSlack {
		t.Fatalf("%d readings missing for %v dropped updates", lost, dropped)
	}
}

// Scenario 6: the agent's buffer file is lost (a corrupt file moved aside, a
// replaced gateway): the new buffer's sequence restarts, and the agent
// continues above the hub's high-water mark instead of having its readings
// skipped as replays.
func TestFaultBufferFileLost(t *testing.T) {
	skipShort(t)
	s := startStackWith(t, stackOptions{period: faultPeriod})
	time.Sleep(1500 * time.Millisecond)
	s.agent.stop(t)
	if err := os.Remove(filepath.Join(s.dir, "edge1", "buffer.db")); err != nil {
		t.Fatal(err)
	}
	s.agent = start(t, "gridedge-agent", s.agentArgs...)
	time.Sleep(1500 * time.Millisecond)
	s.drain(t)
	checkExactlyOnce(t, s.served(t), timeoutSlack)
}
