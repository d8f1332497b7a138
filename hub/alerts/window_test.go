package alerts

import (
	"math"
	"testing"
	"time"
)

// TestWindow checks every aggregation against a direct computation while
// readings enter and leave a 10 s window.
func TestWindow(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	vals := []float64{5, 3, 8, 1, 9, 2, 7, 7, 4, 6, 0, 10, 3, 3, 5}
	w := newWindow(10 * time.Second)
	var all []point
	for i, v := range vals {
		p := point{t0.Add(time.Duration(i) * 3 * time.Second), v}
		w.add(p)
		w.add(p) // repeated: ignored
		all = append(all, p)
		now := p.t.Add(time.Second)
		var live []point
		for _, q := range all {
			if !q.t.Before(now.Add(-10 * time.Second)) {
				live = append(live, q)
			}
		}
		sum, mn, mx := 0.0, math.Inf(1), math.Inf(-1)
		for _, q := range live {
			sum += q.v
			mn, mx = math.Min(mn, q.v), math.Max(mx, q.v)
		}
		n := len(live)
		want := map[string]any{AggLast: v, AggAge: 1.0, AggCount: float64(n), AggSum: sum, AggAvg: sum / float64(n),
			AggMin: mn, AggMax: mx, AggDelta: live[n-1].v - live[0].v}
		if n > 1 {
			want[AggRate] = (live[n-1].v - live[0].v) / live[n-1].t.Sub(live[0].t).Seconds()
		} else {
			want[AggRate] = nil
		}
		for agg, wv := range want {
			got := w.value(agg, now)
			if gf, ok := got.(float64); ok {
				if wf, ok := wv.(float64); !ok || math.Abs(gf-wf) > 1e-9 {
					t.Errorf("step %d %s = %v, want %v", i, agg, got, wv)
				}
			} else if got != wv {
				t.Errorf("step %d %s = %v, want %v", i, agg, got, wv)
			}
		}
	}
	// everything leaves the window: count 0, avg undefined, last and age stay
	later := t0.Add(time.Hour)
	if got := w.value(AggCount, later); got != 0.0 {
		t.Errorf("count after an hour = %v", got)
	}
	if got := w.value(AggAvg, later); got != nil {
		t.Errorf("avg after an hour = %v", got)
	}
	if got := w.value(AggAge, later); got.(float64) < 3500 {
		t.Errorf("age after an hour = %v", got)
	}
	if got := newWindow(0).value(AggAge, later); got != math.Inf(1) {
		t.Errorf("age without readings = %v, want +Inf", got)
	}
}
