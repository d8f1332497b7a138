package fleet

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/shared/control"
)

// points reads the history of one field of edge e1.
func points(t *testing.T, db history.Reader, field string, from, to time.Time) []history.Point {
	t.Helper()
	var out []history.Point
	err := db.Select(context.Background(), history.Query{Layer: Layer, Collection: Collection, IDs: []string{"e1"},
		Fields: []string{field}, From: from, To: to}, func(s history.Series) error {
		for p := range s.Points {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Each heartbeat's figures enter the history of system/edges/<edge>, and
// going offline records online 0.
func TestHeartbeatHistory(t *testing.T) {
	nc, st := startNATS(t), openStore(t)
	db, err := history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(t.TempDir(), "history")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Now().UTC().Truncate(time.Second)
	clock := &fakeClock{t: start}
	runFleet(t, nc, st, clock, func(f *Fleet) { f.History = db })

	// three heartbeats 1 s apart, the buffer growing
	for i := range 3 {
		publish(t, nc, "e1", fmt.Appendf(nil, `{"edge":"e1","uptime":%d,"heartbeat_interval":1,"buffer":{"depth":%d},"oldest_unsent_age":%d.5,
		  "slaves":[{"name":"a","up":true},{"name":"b","up":%t}]}`, 100+i, 10*i, i, i > 0))
		want := uint64(10 * i)
		deadline := time.Now().Add(10 * time.Second)
		for len(points(t, db, "measurements.bufferDepth", start, start.Add(time.Hour))) < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("heartbeat %d (depth %d) not in the history", i, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		clock.Add(time.Second)
	}
	end := start.Add(time.Hour)
	cases := []struct {
		field string
		want  []float64
	}{
		{"measurements.bufferDepth", []float64{0, 10, 20}},
		{"measurements.oldestUnsentAge", []float64{0.5, 1.5, 2.5}},
		{"measurements.slavesUp", []float64{1, 2, 2}},
		{"measurements.slavesTotal", []float64{2, 2, 2}},
		{"measurements.uptime", []float64{100, 101, 102}},
		{"measurements.online", []float64{1, 1, 1}},
	}
	for _, c := range cases {
		ps := points(t, db, c.field, start, end)
		if len(ps) != len(c.want) {
			t.Errorf("%s: %d points %v, want %v", c.field, len(ps), ps, c.want)
			continue
		}
		for i, p := range ps {
			if p.V != c.want[i] || p.Q != 1 || !p.Time().Equal(start.Add(time.Duration(i)*time.Second)) {
				t.Errorf("%s[%d]: %v at %v (q %d), want %v at %v", c.field, i, p.V, p.Time(), p.Q, c.want[i], start.Add(time.Duration(i)*time.Second))
			}
		}
	}

	// silent for more than 3 intervals: offline, online 0 recorded at that moment
	clock.Add(3 * time.Second)
	waitState(t, nc, "e1", control.StateOffline)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := points(t, db, "measurements.online", start, end)
		if len(ps) == 4 && ps[3].V == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("online after going offline: %v, want 1, 1, 1, 0", ps)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ps := points(t, db, "measurements.bufferDepth", start, end); len(ps) != 3 {
		t.Errorf("bufferDepth after going offline: %v, want the 3 heartbeats' only", ps)
	}
}
