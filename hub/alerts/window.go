package alerts

import (
	"math"
	"time"
)

// point is one reading.
type point struct {
	t time.Time
	v float64
}

// window is the readings of one field within a duration, with running
// sums and monotonic deques so that every aggregation is O(1) amortised
// per reading.
type window struct {
	span time.Duration
	// since is when the service started watching (the age of a field
	// without readings counts from it)
	since time.Time
	pts   []point // in time order; pts[head:] are live
	head  int
	sum   float64
	// minQ and maxQ hold indexes into pts whose values increase (minQ) or
	// decrease (maxQ).
	minQ, maxQ []int
	// last is the latest reading seen (kept when it leaves the window, for
	// last and age).
	last    point
	hasLast bool
}

func newWindow(span time.Duration) *window { return &window{span: span} }

// add appends a reading; readings not newer than the last one are ignored
// (a change event repeated, or history already loaded).
func (w *window) add(p point) {
	if w.hasLast && !p.t.After(w.last.t) {
		return
	}
	w.last, w.hasLast = p, true
	if w.span == 0 {
		return
	}
	i := len(w.pts)
	w.pts = append(w.pts, p)
	w.sum += p.v
	for len(w.minQ) > 0 && w.pts[w.minQ[len(w.minQ)-1]].v >= p.v {
		w.minQ = w.minQ[:len(w.minQ)-1]
	}
	w.minQ = append(w.minQ, i)
	for len(w.maxQ) > 0 && w.pts[w.maxQ[len(w.maxQ)-1]].v <= p.v {
		w.maxQ = w.maxQ[:len(w.maxQ)-1]
	}
	w.maxQ = append(w.maxQ, i)
}

// observe adds a value: a number (booleans count as 0 and 1) to the
// window; anything else only moves the latest reading, as undefined.
func (w *window) observe(t time.Time, v any) {
	if f, ok := number(v); ok {
		w.add(point{t, f})
	} else if !w.hasLast || t.After(w.last.t) {
		w.last, w.hasLast = point{t: t, v: math.NaN()}, true
	}
}

// evict drops the readings older than now - span.
func (w *window) evict(now time.Time) {
	if w.span == 0 {
		return
	}
	from := now.Add(-w.span)
	for w.head < len(w.pts) && w.pts[w.head].t.Before(from) {
		w.sum -= w.pts[w.head].v
		w.head++
	}
	for len(w.minQ) > 0 && w.minQ[0] < w.head {
		w.minQ = w.minQ[1:]
	}
	for len(w.maxQ) > 0 && w.maxQ[0] < w.head {
		w.maxQ = w.maxQ[1:]
	}
	// compact once half the slice is dead
	if w.head > 1024 && w.head*2 > len(w.pts) {
		n := copy(w.pts, w.pts[w.head:])
		w.pts = w.pts[:n]
		for i := range w.minQ {
			w.minQ[i] -= w.head
		}
		for i := range w.maxQ {
			w.maxQ[i] -= w.head
		}
		w.head = 0
	}
	if w.head == len(w.pts) {
		w.sum = 0 // no drift from adding and subtracting
	}
}

// value is the aggregation at now; nil when there is nothing to aggregate
// (undefined in the condition).
func (w *window) value(agg string, now time.Time) any {
	switch agg {
	case AggLast:
		if !w.hasLast {
			return nil
		}
		return w.last.v
	case AggAge:
		if !w.hasLast {
			if w.since.IsZero() {
				return math.Inf(1)
			}
			return now.Sub(w.since).Seconds()
		}
		return now.Sub(w.last.t).Seconds()
	}
	w.evict(now)
	live := w.pts[w.head:]
	n := len(live)
	if agg == AggCount {
		return float64(n)
	}
	if n == 0 {
		return nil
	}
	switch agg {
	case AggAvg:
		return w.sum / float64(n)
	case AggSum:
		return w.sum
	case AggMin:
		return w.pts[w.minQ[0]].v
	case AggMax:
		return w.pts[w.maxQ[0]].v
	case AggDelta:
		return live[n-1].v - live[0].v
	case AggRate:
		dt := live[n-1].t.Sub(live[0].t).Seconds()
		if n < 2 || dt <= 0 {
			return nil
		}
		return (live[n-1].v - live[0].v) / dt
	}
	return nil
}
