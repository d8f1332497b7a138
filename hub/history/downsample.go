package history

// Downsampling keeps, beside the raw tsdb, one tsdb per configured
// resolution R (<dir>/downsampled/<R>, e.g. downsampled/1h) holding, for
// every field of every document, one summary per period [k·R, (k+1)·R):
// the counts, sum, min, max, first and last points (with their qualities)
// and the last quality other than good. A summary is written once, when
// its period is closed: older than the level's watermark, which follows
// the raw store's newest sample minus the out-of-order window (the engine
// refuses anything older, so no later point can change a closed period).
// The job appends whole periods as blocks (tsdb.BlockWriter, the way the
// backfill does) and then persists the watermark; a crash in between
// writes the same block again, and the engine merges identical samples.
//
// Readers (downsample_read.go) answer a query whose step is a multiple of
// R from the summaries for the periods that lie wholly inside [from, to]
// and below the watermark, and from the raw store for the rest, folding
// both into the step's buckets with the same rules as a raw aggregation.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	promModel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gridedge/gridedge/shared/config"
)

// DefaultDownsampleRetention keeps aggregates five years.
const DefaultDownsampleRetention = 5 * 365 * 24 * time.Hour

// DownsampleLevel is one resolution of aggregates.
type DownsampleLevel struct {
	// Resolution is the period of a summary, e.g. 1h.
	Resolution config.Duration `json:"resolution"`
	// Retention drops summaries older than this (default 5 years).
	Retention config.Duration `json:"retention,omitempty"`
}

// validateDownsample checks the levels of c (a tsdb config).
func validateDownsample(c *Config, prefix string, es *config.Errors) {
	res := make([]time.Duration, 0, len(c.Downsample))
	for i, l := range c.Downsample {
		p := config.Join(prefix, strconv.Itoa(i))
		r := l.Resolution.Std()
		switch {
		case r < time.Minute:
			es.Add(config.Join(p, "resolution"), "%v is shorter than a minute", r)
			continue
		case r%time.Second != 0:
			es.Add(config.Join(p, "resolution"), "%v is not a whole number of seconds", r)
			continue
		case slices.Contains(res, r):
			es.Add(config.Join(p, "resolution"), "%v is listed twice", r)
			continue
		}
		if l.Retention.Std() < c.Retention.Std() {
			es.Add(config.Join(p, "retention"), "%v is shorter than the raw retention %v: the aggregates would go before the raw data", l.Retention.Std(), c.Retention.Std())
		}
		res = append(res, r)
	}
	slices.Sort(res)
	for i := 1; i < len(res); i++ {
		if res[i]%res[i-1] != 0 {
			es.Add(prefix, "resolution %v is not a multiple of %v: each resolution must divide the next", res[i], res[i-1])
		}
	}
}

// Metric names of the aggregate stores.
const (
	// MetricAgg holds a summary's numbers, one series per part (label agg).
	MetricAgg = "gridedge_agg"
	// MetricAggState holds a summary's first or last point when it is a
	// state (label agg first or last, label state; the value is its quality).
	MetricAggState = "gridedge_agg_state"
	// LabelAgg names the part of a summary.
	LabelAgg = "agg"
)

// Parts of a summary (values of LabelAgg). Parts equal to their default
// are not stored: total and n default to count, qualities to good (1),
// badq to none.
const (
	partCount  = "count" // points with a value (numbers and states)
	partTotal  = "total" // points, nulls included
	partN      = "n"     // numbers
	partSum    = "sum"
	partMin    = "min"
	partMinQ   = "minq"
	partMax    = "max"
	partMaxQ   = "maxq"
	partFirst  = "first"
	partFirstQ = "firstq"
	partLast   = "last"
	partLastQ  = "lastq"
	partBadQ   = "badq" // the last quality other than good
)

// summary is what a step or a period keeps of its points: enough to give
// every aggregation with the rules of aggregate.
type summary struct {
	start   int64
	total   int // points
	all     int // points with a value
	n       int // numbers
	sum     float64
	min     Point
	max     Point
	first   Point // first point with a value
	last    Point // last point with a value
	allGood bool
	badQ    int // last quality other than good
}

// add folds the next point (in time order).
func (s *summary) add(p Point) {
	if s.total == 0 {
		s.allGood = true
	}
	s.total++
	if p.Q != 1 {
		s.allGood, s.badQ = false, p.Q
	}
	if p.Kind == KindNull {
		return
	}
	if s.all == 0 {
		s.first = p
	}
	s.all++
	s.last = p
	if p.Kind != KindNumber {
		return
	}
	if s.n == 0 || p.V < s.min.V {
		s.min = p
	}
	if s.n == 0 || p.V > s.max.V {
		s.max = p
	}
	s.n++
	s.sum += p.V
}

// merge folds the summary of a later period.
func (s *summary) merge(o *summary) {
	if o.total == 0 {
		return
	}
	if s.total == 0 {
		start := s.start
		*s = *o
		s.start = start
		return
	}
	s.total += o.total
	if !o.allGood {
		s.allGood, s.badQ = false, o.badQ
	}
	if o.all > 0 {
		if s.all == 0 {
			s.first = o.first
		}
		s.last = o.last
		s.all += o.all
	}
	if o.n > 0 {
		if s.n == 0 || o.min.V < s.min.V {
			s.min = o.min
		}
		if s.n == 0 || o.max.V > s.max.V {
			s.max = o.max
		}
		s.n += o.n
		s.sum += o.sum
	}
}

// point is the step's point for agg, as aggregate gives it.
func (s *summary) point(agg Agg) Point {
	p := Point{T: s.start, Q: 1}
	if !s.allGood {
		p.Q = s.badQ
	}
	switch {
	case agg == AggCount:
		p.V = float64(s.all)
		return p
	case agg == AggFirst && s.all > 0:
		p = s.first
	case agg == AggLast && s.all > 0, s.n == 0 && s.all > 0:
		p = s.last
	case s.n == 0:
		p.Kind = KindNull
	case agg == AggAvg:
		p.V = s.sum / float64(s.n)
	case agg == AggSum:
		p.V = s.sum
	case agg == AggMin:
		p = s.min
	case agg == AggMax:
		p = s.max
	}
	p.T = s.start
	return p
}

// foldSummaries folds summaries (in time order) into step-aligned buckets
// and yields each bucket's point for agg.
func foldSummaries(sums func(yield func(*summary) bool), step int64, agg Agg) func(yield func(Point) bool) {
	return func(yield func(Point) bool) {
		var b summary
		open := false
		for s := range sums {
			start := s.start - mod(s.start, step)
			if !open || start != b.start {
				if open && !yield(b.point(agg)) {
					return
				}
				b, open = summary{start: start}, true
			}
			b.merge(s)
		}
		if open {
			yield(b.point(agg))
		}
	}
}

// pointSummaries yields each point as a summary of itself.
func pointSummaries(pts func(yield func(Point) bool)) func(yield func(*summary) bool) {
	return func(yield func(*summary) bool) {
		var s summary
		for p := range pts {
			s = summary{start: p.T}
			s.add(p)
			if !yield(&s) {
				return
			}
		}
	}
}

// periodSummaries folds points into the summaries of their periods.
func periodSummaries(pts func(yield func(Point) bool), res int64, fn func(*summary) error) error {
	var s summary
	open := false
	for p := range pts {
		start := p.T - mod(p.T, res)
		if !open || start != s.start {
			if open {
				if err := fn(&s); err != nil {
					return err
				}
			}
			s, open = summary{start: start}, true
		}
		s.add(p)
	}
	if open {
		return fn(&s)
	}
	return nil
}

// level is the store of one resolution.
type level struct {
	res       time.Duration
	dir       string
	db        *tsdb.DB
	watermark atomic.Int64 // periods before it are stored; math.MinInt64: none yet
}

// resName names a resolution for its directory: 5m, 1h, 1d, 90s.
func resName(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// watermarkFile is a level's persisted watermark.
type watermarkFile struct {
	Resolution string `json:"resolution"`
	// Watermark is the end of the last period stored, in milliseconds.
	Watermark int64 `json:"watermark"`
	// Time is Watermark in RFC 3339, for people.
	Time string `json:"time"`
}

func openLevel(dir string, l DownsampleLevel, log *slog.Logger) (*level, error) {
	lv := &level{res: l.Resolution.Std(), dir: filepath.Join(dir, resName(l.Resolution.Std()))}
	if err := os.MkdirAll(lv.dir, 0o750); err != nil {
		return nil, fmt.Errorf("history: create %s: %w", lv.dir, err)
	}
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = l.Retention.Std().Milliseconds()
	if opts.RetentionDuration == 0 {
		opts.RetentionDuration = DefaultDownsampleRetention.Milliseconds()
	}
	// the store is written in blocks only; a (tiny) out-of-order window
	// lets CompactOOOHead load a block just written (it reloads the blocks)
	opts.OutOfOrderTimeWindow = 1
	opts.MaxBlockDuration = min(opts.RetentionDuration/10, (365 * 24 * time.Hour).Milliseconds())
	opts.StripeSize = headStripeSize
	db, err := tsdb.Open(lv.dir, log.With("component", "history-downsampled", "resolution", resName(lv.res)), nil, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("history: open the %s aggregates in %s: %w", resName(lv.res), lv.dir, err)
	}
	lv.db = db
	lv.watermark.Store(math.MinInt64)
	b, err := os.ReadFile(filepath.Join(lv.dir, "watermark.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		db.Close()
		return nil, fmt.Errorf("history: read the %s watermark: %w", resName(lv.res), err)
	default:
		var wf watermarkFile
		if err := json.Unmarshal(b, &wf); err != nil {
			db.Close()
			return nil, fmt.Errorf("history: read the %s watermark in %s: %w", resName(lv.res), lv.dir, err)
		}
		lv.watermark.Store(wf.Watermark)
	}
	return lv, nil
}

// saveWatermark persists wm (write, sync, rename), then publishes it.
func (lv *level) saveWatermark(wm int64) error {
	b, err := json.Marshal(watermarkFile{Resolution: resName(lv.res), Watermark: wm, Time: time.UnixMilli(wm).UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	p := filepath.Join(lv.dir, "watermark.json")
	f, err := os.CreateTemp(lv.dir, "watermark-*.tmp")
	if err != nil {
		return fmt.Errorf("history: save the %s watermark: %w", resName(lv.res), err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("history: save the %s watermark: %w", resName(lv.res), err)
	}
	lv.watermark.Store(wm)
	return nil
}

// downsampler runs the job over the levels.
type downsampler struct {
	levels []*level // by resolution, finest first
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// DownsampleResult says what a run of the downsampling job did.
type DownsampleResult struct {
	// Points counts the raw points aggregated (over every level).
	Points int
	// Periods counts the summaries written (one per field and period).
	Periods int
	// Samples counts the samples the summaries took.
	Samples int
	// Blocks counts the blocks written.
	Blocks int
}

// downsampleChunk is the most time a block of aggregates covers (and the
// most raw time a watermark step reads): a day bounds the job's memory on
// a catch-up (15,000 fields: ~2 M samples of 1 h summaries).
const downsampleChunk = 24 * time.Hour

// Watermarks returns, per resolution, the end of the periods whose
// aggregates are stored (zero time: none yet).
func (s *TSDB) Watermarks() map[time.Duration]time.Time {
	out := map[time.Duration]time.Time{}
	if s.ds == nil {
		return out
	}
	for _, lv := range s.ds.levels {
		var t time.Time
		if wm := lv.watermark.Load(); wm != math.MinInt64 {
			t = time.UnixMilli(wm).UTC()
		}
		out[lv.res] = t
	}
	return out
}

// floor is the latest watermark (math.MinInt64: none, or no downsampling).
func (ds *downsampler) floor() int64 {
	f := int64(math.MinInt64)
	if ds != nil {
		for _, lv := range ds.levels {
			f = max(f, lv.watermark.Load())
		}
	}
	return f
}

// headAppendSlack is how much older than the newest sample the engine
// takes a sample of a new series whatever its out-of-order window: half
// its head's range (tsdb.DefaultOptions' 2 h blocks).
const headAppendSlack = time.Hour

// closedBefore is the time before which no raw sample can still be
// accepted: the newest sample (not after now) minus the out-of-order
// window (at least headAppendSlack); math.MinInt64 when the raw store is
// empty.
//
// The newest sample is the engine's own bound: its head's newest in-order
// sample, or the end of its newest in-order block. A block compacted from
// out-of-order samples does not count: its end is that of its 2 h range,
// up to 2 h after its newest sample and possibly after now, so it would
// close periods in which the engine still takes late samples (Append
// would then refuse them under the watermark, and the aggregates would
// never see them).
func (s *TSDB) closedBefore(now time.Time) int64 {
	newest := s.db.Head().MaxTime()
	for _, b := range s.db.Blocks() {
		m := b.Meta()
		if m.Compaction.FromOutOfOrder() || m.Compaction.FromStaleSeries() || m.Compaction.FromSelectedSeries() {
			continue
		}
		newest = max(newest, m.MaxTime-1)
	}
	if newest == math.MinInt64 || newest < math.MinInt64/2 {
		return math.MinInt64
	}
	return min(newest, now.UnixMilli()) - max(s.oooWindow, headAppendSlack).Milliseconds()
}

// Downsample aggregates every closed period not yet aggregated, level by
// level, and advances the watermarks. A first run starts at the raw
// store's oldest sample.
func (s *TSDB) Downsample(ctx context.Context) (DownsampleResult, error) {
	var res DownsampleResult
	if s.ds == nil {
		return res, nil
	}
	s.ds.mu.Lock()
	defer s.ds.mu.Unlock()
	limit := s.closedBefore(time.Now())
	if limit == math.MinInt64 {
		return res, nil
	}
	for _, lv := range s.ds.levels {
		if err := s.downsampleLevel(ctx, lv, limit, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *TSDB) downsampleLevel(ctx context.Context, lv *level, limit int64, res *DownsampleResult) error {
	r := lv.res.Milliseconds()
	end := limit - mod(limit, r)
	wm := lv.watermark.Load()
	if wm == math.MinInt64 {
		start, err := s.db.StartTime()
		if err != nil {
			return fmt.Errorf("history: downsample: oldest raw sample: %w", err)
		}
		if start == math.MaxInt64 || start == math.MinInt64 {
			return nil
		}
		wm = start - mod(start, r)
	}
	chunk := max(r, downsampleChunk.Milliseconds()/r*r)
	for wm < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		to := min(end, wm+chunk)
		if err := s.downsampleRange(ctx, lv, wm, to, res); err != nil {
			return err
		}
		if err := lv.saveWatermark(to); err != nil {
			return err
		}
		wm = to
	}
	return nil
}

// downsampleRange writes the summaries of the periods in [from, to) of lv
// as one block and loads it.
func (s *TSDB) downsampleRange(ctx context.Context, lv *level, from, to int64, res *DownsampleResult) error {
	name := resName(lv.res)
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), lv.dir, backfillBlockSize)
	if err != nil {
		return fmt.Errorf("history: downsample %s: %w", name, err)
	}
	defer w.Close()
	app := w.Appender(ctx)
	put := func(sm *Sample, metric, part, state string, t int64, v float64) error {
		if _, err := app.Append(0, aggLabels(sm, metric, part, state), t, v); err != nil {
			return fmt.Errorf("history: downsample %s %s %s: %w", name, sm.ID, sm.Field, err)
		}
		res.Samples++
		return nil
	}
	cols, err := s.collections(ctx, from, to-1)
	if err != nil {
		return err
	}
	for _, c := range cols {
		q := Query{Layer: c[0], Collection: c[1], From: time.UnixMilli(from), To: time.UnixMilli(to - 1)}
		err := s.selectRaw(ctx, q, func(se Series) error {
			sm := Sample{Layer: c[0], Collection: c[1], ID: se.ID, Field: se.Field}
			return periodSummaries(se.Points, lv.res.Milliseconds(), func(su *summary) error {
				res.Periods++
				res.Points += su.total
				return su.write(func(metric, part, state string, v float64) error {
					return put(&sm, metric, part, state, su.start, v)
				})
			})
		})
		if err != nil {
			_ = app.Rollback()
			return fmt.Errorf("history: downsample %s %s/%s: %w", name, c[0], c[1], err)
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("history: downsample %s: commit: %w", name, err)
	}
	if _, err := w.Flush(ctx); err != nil {
		if errors.Is(err, tsdb.ErrNoSeriesAppended) {
			return nil
		}
		return fmt.Errorf("history: downsample %s: write a block into %s: %w", name, lv.dir, err)
	}
	res.Blocks++
	// load the new block before the watermark says it is there
	if err := lv.db.CompactOOOHead(ctx); err != nil {
		return fmt.Errorf("history: downsample %s: load the new block: %w", name, err)
	}
	return nil
}

// aggLabels are the labels of the series of a part of sm's field's
// summaries (state: of a MetricAggState series).
func aggLabels(sm *Sample, metric, part, state string) labels.Labels {
	b := labels.NewScratchBuilder(7)
	b.Add(promModel.MetricNameLabel, metric)
	b.Add(LabelLayer, sm.Layer)
	b.Add(LabelCollection, sm.Collection)
	b.Add(LabelID, sm.ID)
	b.Add(LabelField, sm.Field)
	b.Add(LabelAgg, part)
	if metric == MetricAggState {
		b.Add(LabelState, state)
	}
	b.Sort()
	return b.Labels()
}

// write gives the parts of s to put, leaving out those at their default.
func (s *summary) write(put func(metric, part, state string, v float64) error) error {
	type part struct {
		name string
		v    float64
		skip bool
	}
	parts := []part{
		{partCount, float64(s.all), false},
		{partTotal, float64(s.total), s.total == s.all},
		{partN, float64(s.n), s.n == s.all},
		{partSum, s.sum, s.n == 0},
		{partMin, s.min.V, s.n == 0},
		{partMinQ, float64(s.min.Q), s.n == 0 || s.min.Q == 1},
		{partMax, s.max.V, s.n == 0},
		{partMaxQ, float64(s.max.Q), s.n == 0 || s.max.Q == 1},
		{partBadQ, float64(s.badQ), s.allGood},
	}
	for _, p := range parts {
		if !p.skip {
			if err := put(MetricAgg, p.name, "", p.v); err != nil {
				return err
			}
		}
	}
	if s.all == 0 {
		return nil
	}
	for _, e := range []struct {
		p        Point
		name, qn string
	}{{s.first, partFirst, partFirstQ}, {s.last, partLast, partLastQ}} {
		if e.p.Kind == KindString {
			if err := put(MetricAggState, e.name, e.p.S, float64(e.p.Q)); err != nil {
				return err
			}
			continue
		}
		if err := put(MetricAgg, e.name, "", e.p.V); err != nil {
			return err
		}
		if e.p.Q != 1 {
			if err := put(MetricAgg, e.qn, "", float64(e.p.Q)); err != nil {
				return err
			}
		}
	}
	return nil
}

// collections lists the (layer, collection) pairs with raw history
// between mint and maxt.
func (s *TSDB) collections(ctx context.Context, mint, maxt int64) ([][2]string, error) {
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return nil, fmt.Errorf("history: list the collections: %w", err)
	}
	defer q.Close()
	layers, _, err := q.LabelValues(ctx, LabelLayer, nil)
	if err != nil {
		return nil, fmt.Errorf("history: list the layers: %w", err)
	}
	var out [][2]string
	for _, l := range layers {
		cols, _, err := q.LabelValues(ctx, LabelCollection, nil, labels.MustNewMatcher(labels.MatchEqual, LabelLayer, l))
		if err != nil {
			return nil, fmt.Errorf("history: list the collections of %s: %w", l, err)
		}
		for _, c := range cols {
			out = append(out, [2]string{l, c})
		}
	}
	return out, nil
}

// openDownsampler opens the levels' stores in <dir>/downsampled and
// starts the job every interval (negative: never; the caller runs
// Downsample).
func (s *TSDB) openDownsampler(dir string, levels []DownsampleLevel, every time.Duration) error {
	if len(levels) == 0 {
		return nil
	}
	ds := &downsampler{}
	for _, l := range slices.SortedFunc(slices.Values(levels), func(a, b DownsampleLevel) int { return int(a.Resolution - b.Resolution) }) {
		if l.Resolution.Std() < time.Second {
			ds.close()
			return errorf(ErrInvalid, "downsample resolution %v is below a second", l.Resolution.Std())
		}
		lv, err := openLevel(filepath.Join(dir, "downsampled"), l, s.log)
		if err != nil {
			ds.close()
			return err
		}
		ds.levels = append(ds.levels, lv)
	}
	s.ds = ds
	if every < 0 {
		return nil
	}
	if every == 0 {
		every = min(ds.levels[0].res, 10*time.Minute)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ds.cancel, ds.done = cancel, make(chan struct{})
	go func() {
		defer close(ds.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if r, err := s.Downsample(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("history: downsampling failed; it is tried again", "err", err, "in", every)
			} else if r.Periods > 0 {
				s.log.Debug("history: downsampled", "points", r.Points, "periods", r.Periods, "blocks", r.Blocks)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// close stops the job and closes the levels' stores.
func (ds *downsampler) close() error {
	if ds.cancel != nil {
		ds.cancel()
		<-ds.done
	}
	var errs []error
	for _, lv := range ds.levels {
		if err := lv.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("history: close the %s aggregates: %w", resName(lv.res), err))
		}
	}
	return errors.Join(errs...)
}
