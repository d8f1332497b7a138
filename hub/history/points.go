package history

import (
	"cmp"
	"iter"
	"math"
	"slices"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// cursor walks one engine series within [mint, maxt].
type cursor struct {
	it   chunkenc.Iterator
	t    int64
	v    float64
	ok   bool
	maxt int64
	err  *error
}

func newCursor(s storage.Series, mint, maxt int64, err *error) *cursor {
	c := &cursor{maxt: maxt, err: err}
	if s == nil {
		return c
	}
	c.it = s.Iterator(nil)
	if c.it.Seek(mint) == chunkenc.ValNone {
		c.done()
		return c
	}
	c.t, c.v = c.it.At()
	c.ok = c.t <= maxt
	return c
}

func (c *cursor) done() {
	c.ok = false
	if e := c.it.Err(); e != nil && *c.err == nil {
		*c.err = e
	}
}

func (c *cursor) next() {
	if c.it.Next() == chunkenc.ValNone {
		c.done()
		return
	}
	c.t, c.v = c.it.At()
	c.ok = c.t <= c.maxt
}

// valueCursor merges a field's value series (one per scale) by time,
// dividing each by its scale; a time found in several (a point stored
// again after its field's scale grew) is taken once.
type valueCursor struct {
	cs  []*cursor
	div []float64
	ok  bool
	t   int64
	v   float64
}

func newValueCursor(ss []storage.Series, mint, maxt int64, err *error) *valueCursor {
	vc := &valueCursor{}
	for _, s := range ss {
		vc.cs = append(vc.cs, newCursor(s, mint, maxt, err))
		vc.div = append(vc.div, divisor(s.Labels().Get(LabelScale)))
	}
	vc.pick()
	return vc
}

func (vc *valueCursor) pick() {
	vc.ok = false
	for i, c := range vc.cs {
		if c.ok && (!vc.ok || c.t < vc.t) {
			vc.ok, vc.t, vc.v = true, c.t, c.v/vc.div[i]
		}
	}
}

func (vc *valueCursor) next() {
	for _, c := range vc.cs {
		if c.ok && c.t == vc.t {
			c.next()
		}
	}
	vc.pick()
}

// rawPoints merges a field's value, quality and state series by time: a
// value with the quality at its time (good when none), a quality alone as
// a null value, a state with the quality it carries.
func rawPoints(fs *fieldSeries, mint, maxt int64, err *error) iter.Seq[Point] {
	return func(yield func(Point) bool) {
		var states []Point
		for _, s := range fs.states {
			st := s.Labels().Get(LabelState)
			c := newCursor(s, mint, maxt, err)
			for ; c.ok; c.next() {
				states = append(states, Point{T: c.t, Kind: KindString, S: st, Q: int(c.v)})
			}
		}
		slices.SortStableFunc(states, func(a, b Point) int { return cmp.Compare(a.T, b.T) })
		v, q := newValueCursor(fs.values, mint, maxt, err), newCursor(fs.quality, mint, maxt, err)
		for v.ok || q.ok || len(states) > 0 {
			var p Point
			t := int64(math.MaxInt64)
			if v.ok {
				t = v.t
			}
			if q.ok && q.t < t {
				t = q.t
			}
			if len(states) > 0 && states[0].T <= t {
				p, states = states[0], states[1:]
			} else {
				switch {
				case v.ok && v.t == t && q.ok && q.t == t:
					p = Point{T: t, V: v.v, Q: int(q.v)}
					v.next()
					q.next()
				case v.ok && v.t == t:
					p = Point{T: t, V: v.v, Q: 1}
					v.next()
				default:
					p = Point{T: t, Kind: KindNull, Q: int(q.v)}
					q.next()
				}
			}
			if !yield(p) {
				return
			}
		}
	}
}

// limit yields at most n points.
func limit(pts iter.Seq[Point], n int) iter.Seq[Point] {
	return func(yield func(Point) bool) {
		i := 0
		for p := range pts {
			if i >= n || !yield(p) {
				return
			}
			i++
		}
	}
}

// bucket accumulates the points of one step.
type bucket struct {
	start       int64
	n           int // points with a number
	all         int // points with any value
	sum         float64
	pick        Point // min, max, first or last, as the aggregation chooses
	havePick    bool
	worstQ      int
	allGood     bool
	lastState   Point
	haveState   bool
	haveNumeric bool
}

// aggregate folds points into step-aligned buckets. Numbers: avg, min,
// max, sum, count as named; states (strings) count, and are the result of
// first and last, or of any aggregation when the step holds no number.
// The quality of min, max, first and last is the chosen point's; of avg,
// sum and count, 1 (good) when every point was good, else the last other
// quality met. Null values only count toward the quality.
func aggregate(pts iter.Seq[Point], step int64, agg Agg) iter.Seq[Point] {
	return func(yield func(Point) bool) {
		var b bucket
		open := false
		flush := func() bool {
			if !open {
				return true
			}
			open = false
			p := Point{T: b.start, Q: 1}
			if !b.allGood {
				p.Q = b.worstQ
			}
			switch {
			case agg == AggCount:
				p.V = float64(b.all)
			case (agg == AggFirst || agg == AggLast || !b.haveNumeric) && b.havePick:
				p = b.pick
				p.T = b.start
			case !b.haveNumeric && b.haveState:
				p = b.lastState
				p.T = b.start
			case !b.haveNumeric:
				p.Kind = KindNull
			case agg == AggAvg:
				p.V = b.sum / float64(b.n)
			case agg == AggSum:
				p.V = b.sum
			default: // min, max
				p = b.pick
				p.T = b.start
			}
			return yield(p)
		}
		for p := range pts {
			start := p.T - mod(p.T, step)
			if !open || start != b.start {
				if !flush() {
					return
				}
				b = bucket{start: start, allGood: true}
				open = true
			}
			if p.Q != 1 {
				b.allGood = false
				b.worstQ = p.Q
			}
			switch p.Kind {
			case KindNull:
				continue
			case KindString:
				b.all++
				b.lastState, b.haveState = p, true
				switch {
				case agg == AggFirst && !b.havePick, agg == AggLast:
					b.pick, b.havePick = p, true
				}
				continue
			}
			b.all++
			b.n++
			b.sum += p.V
			first := !b.haveNumeric
			b.haveNumeric = true
			switch agg {
			case AggMin:
				if first || p.V < b.pick.V {
					b.pick, b.havePick = p, true
				}
			case AggMax:
				if first || p.V > b.pick.V {
					b.pick, b.havePick = p, true
				}
			case AggFirst:
				if !b.havePick {
					b.pick, b.havePick = p, true
				}
			case AggLast:
				b.pick, b.havePick = p, true
			}
		}
		flush()
	}
}

// mod is the non-negative remainder of t/step (times before 1970 too).
func mod(t, step int64) int64 {
	m := t % step
	if m < 0 {
		m += step
	}
	return m
}
