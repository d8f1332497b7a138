package history

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"

	promModel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// splitPlan says which part of a query the aggregates of a level answer:
// the periods in [from, to); the raw store answers the rest.
type splitPlan struct {
	lv       *level
	from, to int64
}

// plan picks the coarsest level whose resolution divides q's step and
// whose stored periods cover part of [q.From, q.To]: the periods wholly
// inside it and before the level's watermark. False: raw answers it all.
func (ds *downsampler) plan(q *Query) (splitPlan, bool) {
	if ds == nil || q.Step <= 0 || q.Step%time.Millisecond != 0 {
		return splitPlan{}, false
	}
	step := q.Step.Milliseconds()
	mint, maxt := bounds(q)
	for i := len(ds.levels) - 1; i >= 0; i-- {
		lv := ds.levels[i]
		r := lv.res.Milliseconds()
		wm := lv.watermark.Load()
		if step%r != 0 || wm == math.MinInt64 {
			continue
		}
		from := mint
		if mint != math.MinInt64 {
			from = mint + mod(r-mod(mint, r), r)
		}
		to := wm
		if maxt != math.MaxInt64 {
			to = min(to, maxt+1-mod(maxt+1, r))
		}
		if from < to {
			return splitPlan{lv: lv, from: from, to: to}, true
		}
	}
	return splitPlan{}, false
}

// fields lists the fields with aggregates matching ms between mint and maxt.
func (ds *downsampler) fields(ctx context.Context, mint, maxt int64, ms []*labels.Matcher) ([]string, error) {
	var out []string
	for _, lv := range ds.levels {
		q, err := lv.db.Querier(mint, maxt)
		if err != nil {
			return nil, err
		}
		vals, _, err := q.LabelValues(ctx, LabelField, nil, ms...)
		q.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

// rawSegment is a part of a split query the raw store answers.
type rawSegment struct {
	q          storage.Querier
	mint, maxt int64
	byField    map[string]*fieldSeries
}

// aggSeries are the aggregate series of one field.
type aggSeries struct {
	parts  map[string]storage.Series
	states map[string][]storage.Series // first, last
}

// selectSplit answers q from the aggregates of p.lv for [p.from, p.to)
// and from the raw store before and after, folding both into q's steps.
func (s *TSDB) selectSplit(ctx context.Context, q Query, p splitPlan, fn func(Series) error) error {
	mint, maxt := bounds(&q)
	// the raw store answers [mint, p.from) and [p.to, maxt]
	var before, after *rawSegment
	var segs []*rawSegment
	for i, r := range [][2]int64{{mint, p.from - 1}, {p.to, maxt}} {
		if r[0] > r[1] || (i == 0 && p.from == math.MinInt64) {
			continue
		}
		rq, err := s.db.Querier(r[0], r[1])
		if err != nil {
			return fmt.Errorf("history: query %s/%s: %w", q.Layer, q.Collection, err)
		}
		defer rq.Close()
		sg := &rawSegment{q: rq, mint: r[0], maxt: r[1]}
		if i == 0 {
			before = sg
		} else {
			after = sg
		}
		segs = append(segs, sg)
	}
	aq, err := p.lv.db.Querier(p.from, p.to-1)
	if err != nil {
		return fmt.Errorf("history: query the %s aggregates of %s/%s: %w", resName(p.lv.res), q.Layer, q.Collection, err)
	}
	defer aq.Close()
	base := collectionMatchers(q.Layer, q.Collection)
	fm, err := oneOf(LabelField, q.Fields)
	if err != nil {
		return errorf(ErrInvalid, "fields: %v", err)
	}
	if fm != nil {
		base = append(base, fm)
	}
	ids := q.IDs
	if len(ids) == 0 {
		qs := []storage.Querier{aq}
		for _, sg := range segs {
			qs = append(qs, sg.q)
		}
		for _, sq := range qs {
			vals, _, err := sq.LabelValues(ctx, LabelID, nil, base...)
			if err != nil {
				return fmt.Errorf("history: list documents of %s/%s: %w", q.Layer, q.Collection, err)
			}
			ids = append(ids, vals...)
		}
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	}
	step := q.Step.Milliseconds()
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		ms := append(slices.Clone(base), labels.MustNewMatcher(labels.MatchEqual, LabelID, id))
		fields := map[string]bool{}
		for _, sg := range segs {
			if sg.byField, err = groupFields(sg.q.Select(ctx, false, &storage.SelectHints{Start: sg.mint, End: sg.maxt}, ms...)); err != nil {
				return fmt.Errorf("history: query %s: %w", id, err)
			}
			for f := range sg.byField {
				fields[f] = true
			}
		}
		aggs, err := groupAgg(aq.Select(ctx, false, &storage.SelectHints{Start: p.from, End: p.to - 1}, ms...))
		if err != nil {
			return fmt.Errorf("history: query the aggregates of %s: %w", id, err)
		}
		for f := range aggs {
			fields[f] = true
		}
		for _, f := range slices.Sorted(func(yield func(string) bool) {
			for k := range fields {
				if !yield(k) {
					return
				}
			}
		}) {
			var iterErr error
			raw := func(sg *rawSegment, yield func(*summary) bool) bool {
				if sg == nil || sg.byField[f] == nil {
					return true
				}
				for su := range pointSummaries(rawPoints(sg.byField[f], sg.mint, sg.maxt, &iterErr)) {
					if !yield(su) {
						return false
					}
				}
				return true
			}
			sums := func(yield func(*summary) bool) {
				_ = raw(before, yield) && aggsOf(aggs[f], p, &iterErr, yield) && raw(after, yield)
			}
			var pts iter.Seq[Point] = foldSummaries(sums, step, q.Agg)
			if q.Limit > 0 {
				pts = limit(pts, q.Limit)
			}
			if err := fn(Series{ID: id, Field: f, Points: pts}); err != nil {
				return err
			}
			if iterErr != nil {
				return fmt.Errorf("history: read %s %s: %w", id, f, iterErr)
			}
		}
	}
	return nil
}

// aggsOf yields the stored summaries of as (nil: none); false when
// yield stopped.
func aggsOf(as *aggSeries, p splitPlan, err *error, yield func(*summary) bool) bool {
	if as == nil {
		return true
	}
	for su := range as.summaries(p.from, p.to-1, err) {
		if !yield(su) {
			return false
		}
	}
	return true
}

// groupAgg sorts the aggregate series of one document by field.
func groupAgg(set storage.SeriesSet) (map[string]*aggSeries, error) {
	out := map[string]*aggSeries{}
	for set.Next() {
		sr := set.At()
		ls := sr.Labels()
		f := ls.Get(LabelField)
		as := out[f]
		if as == nil {
			as = &aggSeries{parts: map[string]storage.Series{}, states: map[string][]storage.Series{}}
			out[f] = as
		}
		part := ls.Get(LabelAgg)
		switch ls.Get(promModel.MetricNameLabel) {
		case MetricAgg:
			as.parts[part] = sr
		case MetricAggState:
			as.states[part] = append(as.states[part], sr)
		}
	}
	return out, set.Err()
}

// summaries yields the stored summaries of one field in time order.
func (as *aggSeries) summaries(mint, maxt int64, err *error) iter.Seq[*summary] {
	return func(yield func(*summary) bool) {
		cs := map[string]*cursor{}
		for _, part := range []string{partCount, partTotal, partN, partSum, partMin, partMinQ, partMax, partMaxQ, partFirst, partFirstQ, partLast, partLastQ, partBadQ} {
			cs[part] = newCursor(as.parts[part], mint, maxt, err)
		}
		states := map[string][]Point{}
		for _, part := range []string{partFirst, partLast} {
			var pts []Point
			for _, sr := range as.states[part] {
				st := sr.Labels().Get(LabelState)
				for c := newCursor(sr, mint, maxt, err); c.ok; c.next() {
					pts = append(pts, Point{T: c.t, Kind: KindString, S: st, Q: int(c.v)})
				}
			}
			slices.SortFunc(pts, func(a, b Point) int { return cmp.Compare(a.T, b.T) })
			states[part] = pts
		}
		// at returns the part's value at t, if stored
		at := func(part string, t int64) (float64, bool) {
			c := cs[part]
			for c.ok && c.t < t {
				c.next()
			}
			if c.ok && c.t == t {
				return c.v, true
			}
			return 0, false
		}
		or := func(part string, t int64, def float64) float64 {
			if v, ok := at(part, t); ok {
				return v
			}
			return def
		}
		pick := func(part, qpart string, t int64) Point {
			if v, ok := at(part, t); ok {
				return Point{V: v, Q: int(or(qpart, t, 1))}
			}
			pts := states[part]
			for len(pts) > 0 && pts[0].T < t {
				pts = pts[1:]
			}
			states[part] = pts
			if len(pts) > 0 && pts[0].T == t {
				return pts[0]
			}
			return Point{Kind: KindNull, Q: 1} // not stored: a damaged block
		}
		count := cs[partCount]
		var su summary
		for ; count.ok; count.next() {
			t := count.t
			su = summary{start: t, all: int(count.v), allGood: true}
			su.total = int(or(partTotal, t, float64(su.all)))
			su.n = int(or(partN, t, float64(su.all)))
			if su.n > 0 {
				su.sum = or(partSum, t, 0)
				su.min = Point{V: or(partMin, t, 0), Q: int(or(partMinQ, t, 1))}
				su.max = Point{V: or(partMax, t, 0), Q: int(or(partMaxQ, t, 1))}
			}
			if bq, ok := at(partBadQ, t); ok {
				su.allGood, su.badQ = false, int(bq)
			}
			if su.all > 0 {
				su.first = pick(partFirst, partFirstQ, t)
				su.last = pick(partLast, partLastQ, t)
			}
			if su.total > 0 && !yield(&su) {
				return
			}
		}
	}
}
