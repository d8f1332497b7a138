package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	promModel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"

	"github.com/gridedge/gridedge/shared/model"
)

// TSDBOptions configure the embedded engine.
type TSDBOptions struct {
	// Dir is the engine's directory.
	Dir string
	// Retention drops blocks older than this (0: DefaultRetention).
	Retention time.Duration
	// RetentionSize caps the directory's size in bytes (0: no cap).
	RetentionSize int64
	// OutOfOrderWindow accepts samples this much older than the newest
	// (0: DefaultOutOfOrderWindow).
	OutOfOrderWindow time.Duration
	// Logger receives the engine's events.
	Logger *slog.Logger
	// Downsample lists the resolutions to keep aggregates of
	// (downsample.go); empty: none.
	Downsample []DownsampleLevel
	// DownsampleEvery is how often the downsampling job looks for closed
	// periods (0: the finest resolution, at most 10 minutes; negative:
	// never, the caller runs Downsample).
	DownsampleEvery time.Duration
	// OOOCompactBytes compacts the out-of-order samples into blocks when
	// their write-behind log reaches this size (0: DefaultOOOCompactBytes;
	// negative: only when the engine compacts its head), see ooo.go.
	OOOCompactBytes int64
	// OOOCheckEvery is how often that size is looked at (0: 10 s).
	OOOCheckEvery time.Duration
}

// TSDB is the embedded history store: Prometheus' TSDB.
type TSDB struct {
	db  *tsdb.DB
	log *slog.Logger

	mu     sync.Mutex // serialises appends; guards refs and states
	refs   map[string]seriesRef
	states map[string]stateMark
	scales scaler
	closed bool

	oooWindow time.Duration
	ds        *downsampler // nil: no downsampling

	oooCancel context.CancelFunc // stops bindOutOfOrder (nil: not running)
	oooDone   chan struct{}

	written, unchanged, refused, oooCompactions atomic.Uint64
}

var _ Store = (*TSDB)(nil)

type seriesRef struct {
	lset labels.Labels
	ref  storage.SeriesRef
}

// stateMark is the last state written for a string-valued field.
type stateMark struct {
	t     int64
	state string
	q     int
}

// OpenTSDB opens (creating it if needed) the engine in o.Dir.
// headStripeSize is the number of lock stripes of the tsdb head's series
// map (Prometheus' default is 16,384, ~5 MB of live heap allocated at open
// whatever the number of series). The hub appends from one ingest
// goroutine at a time, so contention on a stripe is rare; 1,024 stripes
// keep ~15 series per stripe at 500 devices × 30 tags.
const headStripeSize = 1024

func OpenTSDB(o TSDBOptions) (*TSDB, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.OutOfOrderWindow == 0 {
		o.OutOfOrderWindow = DefaultOutOfOrderWindow
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("history: create %s: %w", o.Dir, err)
	}
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = o.Retention.Milliseconds()
	opts.MaxBytes = o.RetentionSize
	opts.OutOfOrderTimeWindow = o.OutOfOrderWindow.Milliseconds()
	// blocks of 2 h compact up to 1/10 of the retention (at most 31 days)
	opts.MaxBlockDuration = min(o.Retention.Milliseconds()/10, (31 * 24 * time.Hour).Milliseconds())
	opts.StripeSize = headStripeSize
	// what Prometheus itself ships with: the WAL and the write-behind log
	// of a backlog replay take about half the disk
	opts.WALCompression = compression.Snappy
	db, err := tsdb.Open(o.Dir, o.Logger.With("component", "history"), nil, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("history: open the tsdb in %s: %w", o.Dir, err)
	}
	t := &TSDB{db: db, log: o.Logger, refs: map[string]seriesRef{}, states: map[string]stateMark{}, scales: scaler{}, oooWindow: o.OutOfOrderWindow}
	if err := t.loadScales(); err != nil {
		db.Close()
		return nil, err
	}
	if err := t.openDownsampler(o.Dir, o.Downsample, o.DownsampleEvery); err != nil {
		db.Close()
		return nil, err
	}
	if o.OOOCompactBytes >= 0 {
		if o.OOOCompactBytes == 0 {
			o.OOOCompactBytes = DefaultOOOCompactBytes
		}
		if o.OOOCheckEvery <= 0 {
			o.OOOCheckEvery = oooCheckEvery
		}
		t.bindOutOfOrder(o.OOOCompactBytes, o.OOOCheckEvery)
	}
	return t, nil
}

// loadScales remembers the largest scale of each field's value series, so
// that a field keeps its series across restarts.
func (s *TSDB) loadScales() error {
	q, err := s.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return fmt.Errorf("history: read the value series: %w", err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, &storage.SelectHints{Start: math.MinInt64, End: math.MaxInt64, Func: "series"},
		labels.MustNewMatcher(labels.MatchEqual, promModel.MetricNameLabel, MetricValue),
		labels.MustNewMatcher(labels.MatchRegexp, LabelScale, ".+"))
	for set.Next() {
		ls := set.At().Labels()
		sm := Sample{Layer: ls.Get(LabelLayer), Collection: ls.Get(LabelCollection), ID: ls.Get(LabelID), Field: ls.Get(LabelField)}
		d, err := strconv.Atoi(ls.Get(LabelScale))
		if err != nil || d < 0 || d > maxScale {
			continue
		}
		k := seriesKey(MetricValue, &sm, "")
		if cur, ok := s.scales[k]; !ok || d > cur {
			s.scales[k] = d
		}
	}
	if err := set.Err(); err != nil {
		return fmt.Errorf("history: read the value series: %w", err)
	}
	return nil
}

// DB is the engine, for benchmarks and maintenance (compaction).
func (s *TSDB) DB() *tsdb.DB { return s.db }

// Close flushes the WAL and closes the engine.
func (s *TSDB) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.oooCancel != nil {
		s.oooCancel()
		<-s.oooDone
	}
	if s.ds != nil {
		if err := s.ds.close(); err != nil {
			s.db.Close()
			return err
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("history: close the tsdb: %w", err)
	}
	return nil
}

// Stats returns the counters.
func (s *TSDB) Stats() Stats {
	return Stats{Written: s.written.Load(), Unchanged: s.unchanged.Load(), Refused: s.refused.Load()}
}

func seriesKey(metric string, sm *Sample, state string) string {
	return metric + "\x00" + sm.Layer + "\x00" + sm.Collection + "\x00" + sm.ID + "\x00" + sm.Field + "\x00" + state
}

func (s *TSDB) ref(metric string, sm *Sample, state string) (string, seriesRef) {
	k := seriesKey(metric, sm, state)
	if r, ok := s.refs[k]; ok {
		return k, r
	}
	return k, seriesRef{lset: seriesLabels(metric, sm, state)}
}

// seriesLabels are the labels of sm's series of metric (state: the
// gridedge_state series' state, or the gridedge_value series' scale).
func seriesLabels(metric string, sm *Sample, state string) labels.Labels {
	b := labels.NewScratchBuilder(6)
	b.Add(promModel.MetricNameLabel, metric)
	b.Add(LabelLayer, sm.Layer)
	b.Add(LabelCollection, sm.Collection)
	b.Add(LabelID, sm.ID)
	b.Add(LabelField, sm.Field)
	switch {
	case metric == MetricState:
		b.Add(LabelState, state)
	case metric == MetricValue && state != "":
		b.Add(LabelScale, state)
	}
	b.Sort()
	return b.Labels()
}

// refusal tells whether err refuses one sample rather than failing the append.
func refusal(err error) bool {
	return errors.Is(err, storage.ErrOutOfBounds) || errors.Is(err, storage.ErrTooOldSample) ||
		errors.Is(err, storage.ErrOutOfOrderSample) || errors.Is(err, storage.ErrDuplicateSampleForTimestamp)
}

// Append stores samples in one transaction.
func (s *TSDB) Append(ctx context.Context, samples []Sample) (AppendResult, error) {
	var res AppendResult
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return res, ErrClosed
	}
	// periods before a downsampling watermark are aggregated: nothing
	// may enter them (the engine's window refuses such samples too, except
	// when the raw store is empty)
	floor := s.ds.floor()
	app := s.db.Appender(ctx)
	newRefs := map[string]seriesRef{}
	newStates := map[string]stateMark{}
	put := func(metric string, sm *Sample, state string, t int64, v float64) (bool, error) {
		k, r := s.ref(metric, sm, state)
		if nr, ok := newRefs[k]; ok {
			r = nr
		}
		ref, err := app.Append(r.ref, r.lset, t, v)
		if err != nil {
			if refusal(err) {
				if res.Refused++; res.FirstRefusal == "" {
					res.FirstRefusal = fmt.Sprintf("%s %s %s at %s: %v", sm.Layer+"/"+sm.Collection, sm.ID, sm.Field, sm.T.UTC().Format(time.RFC3339Nano), err)
				}
				return false, nil
			}
			return false, err
		}
		if r.ref == 0 && ref != 0 {
			newRefs[k] = seriesRef{lset: r.lset, ref: ref}
		}
		return true, nil
	}
	for i := range samples {
		sm := &samples[i]
		if sm.Layer == "" || sm.Collection == "" || sm.ID == "" || sm.Field == "" {
			_ = app.Rollback()
			return AppendResult{}, errorf(ErrInvalid, "sample %d: layer, collection, id and field are required", i)
		}
		t := sm.T.UnixMilli()
		if t < floor {
			if res.Refused++; res.FirstRefusal == "" {
				res.FirstRefusal = fmt.Sprintf("%s %s %s at %s: before the downsampling watermark %s", sm.Layer+"/"+sm.Collection, sm.ID, sm.Field,
					sm.T.UTC().Format(time.RFC3339Nano), time.UnixMilli(floor).UTC().Format(time.RFC3339))
			}
			continue
		}
		v, str, kind := numeric(sm.Value)
		var ok bool
		var err error
		switch kind {
		case sampleUnsupported:
			continue
		case sampleString:
			fk := seriesKey(MetricState, sm, "")
			last, known := newStates[fk]
			if !known {
				last, known = s.states[fk]
			}
			if !known {
				last, known = s.lastState(ctx, sm, t)
			}
			if known && t > last.t && last.state == str && last.q == sm.Quality {
				res.Unchanged++
				continue
			}
			if ok, err = put(MetricState, sm, str, t, float64(sm.Quality)); err == nil && ok && (!known || t > last.t) {
				newStates[fk] = stateMark{t: t, state: str, q: sm.Quality}
			}
		case sampleNull:
			ok, err = put(MetricQuality, sm, "", t, float64(sm.Quality))
		default:
			scale, x := s.scales.encode(seriesKey(MetricValue, sm, ""), v)
			// a good quality is the default: only other qualities are stored
			if ok, err = put(MetricValue, sm, scale, t, x); err == nil && ok && sm.Quality != model.QualityGood {
				ok, err = put(MetricQuality, sm, "", t, float64(sm.Quality))
			}
		}
		if err != nil {
			_ = app.Rollback()
			return AppendResult{}, fmt.Errorf("history: append %s %s: %w", sm.ID, sm.Field, err)
		}
		if ok {
			res.Written++
		}
	}
	if err := app.Commit(); err != nil {
		return AppendResult{}, fmt.Errorf("history: commit %d samples: %w", len(samples), err)
	}
	for k, r := range newRefs {
		s.refs[k] = r
	}
	for k, m := range newStates {
		s.states[k] = m
	}
	s.written.Add(uint64(res.Written))
	s.unchanged.Add(uint64(res.Unchanged))
	s.refused.Add(uint64(res.Refused))
	return res, nil
}

// stateLookback bounds the search for a field's previous state after a
// restart: a state unchanged for longer is recorded again once.
const stateLookback = 24 * time.Hour

// lastState finds the state of sm's field last written at or before t.
func (s *TSDB) lastState(ctx context.Context, sm *Sample, t int64) (stateMark, bool) {
	q, err := s.db.Querier(t-stateLookback.Milliseconds(), t)
	if err != nil {
		return stateMark{}, false
	}
	defer q.Close()
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, promModel.MetricNameLabel, MetricState),
		labels.MustNewMatcher(labels.MatchEqual, LabelLayer, sm.Layer), labels.MustNewMatcher(labels.MatchEqual, LabelCollection, sm.Collection),
		labels.MustNewMatcher(labels.MatchEqual, LabelID, sm.ID), labels.MustNewMatcher(labels.MatchEqual, LabelField, sm.Field))
	var best stateMark
	found := false
	for ss.Next() {
		st := ss.At().Labels().Get(LabelState)
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			if !found || ts > best.t {
				best, found = stateMark{t: ts, state: st, q: int(v)}, true
			}
		}
	}
	return best, found
}

func bounds(q *Query) (int64, int64) {
	mint, maxt := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		mint = q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		maxt = q.To.UnixMilli()
	}
	return mint, maxt
}

func collectionMatchers(layer, col string) []*labels.Matcher {
	return []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, LabelLayer, layer), labels.MustNewMatcher(labels.MatchEqual, LabelCollection, col)}
}

// oneOf matches any of vals exactly (nil: any value).
func oneOf(name string, vals []string) (*labels.Matcher, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) == 1 {
		return labels.NewMatcher(labels.MatchEqual, name, vals[0])
	}
	qs := make([]string, len(vals))
	for i, v := range vals {
		qs[i] = regexp.QuoteMeta(v)
	}
	return labels.NewMatcher(labels.MatchRegexp, name, strings.Join(qs, "|"))
}

// CheckQuery validates q and normalises its IDs, Fields and Agg.
func CheckQuery(q *Query) error {
	if q.Layer == "" || q.Collection == "" {
		return errorf(ErrInvalid, "layer and collection are required")
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return errorf(ErrInvalid, "to %s is before from %s", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	if q.Step < 0 || (q.Step > 0 && q.Step < time.Millisecond) {
		return errorf(ErrInvalid, "step %v is below a millisecond", q.Step)
	}
	if q.Limit < 0 {
		return errorf(ErrInvalid, "limit %d is negative", q.Limit)
	}
	a, err := ParseAgg(string(q.Agg))
	if err != nil {
		return err
	}
	q.Agg = a
	q.IDs = slices.Compact(slices.Sorted(slices.Values(q.IDs)))
	q.Fields = slices.Compact(slices.Sorted(slices.Values(q.Fields)))
	return nil
}

// Fields returns the fields with history of one document.
func (s *TSDB) Fields(ctx context.Context, layer, col, id string, from, to time.Time) ([]string, error) {
	qq := Query{From: from, To: to}
	mint, maxt := bounds(&qq)
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return nil, fmt.Errorf("history: fields of %s: %w", id, err)
	}
	defer q.Close()
	ms := append(collectionMatchers(layer, col), labels.MustNewMatcher(labels.MatchEqual, LabelID, id))
	vals, _, err := q.LabelValues(ctx, LabelField, nil, ms...)
	if err != nil {
		return nil, fmt.Errorf("history: fields of %s: %w", id, err)
	}
	if s.ds != nil {
		// fields whose raw history is gone still have aggregates
		agg, err := s.ds.fields(ctx, mint, maxt, ms)
		if err != nil {
			return nil, fmt.Errorf("history: fields of %s: %w", id, err)
		}
		vals = slices.Compact(slices.Sorted(slices.Values(append(vals, agg...))))
	}
	return vals, nil
}

// fieldSeries are the engine's series of one field.
type fieldSeries struct {
	values  []storage.Series // one per scale
	quality storage.Series
	states  []storage.Series
}

// Select streams the series of q.
func (s *TSDB) Select(ctx context.Context, q Query, fn func(Series) error) error {
	if err := CheckQuery(&q); err != nil {
		return err
	}
	if p, ok := s.ds.plan(&q); ok {
		return s.selectSplit(ctx, q, p, fn)
	}
	return s.selectRaw(ctx, q, fn)
}

// groupFields sorts the engine's series of one document by field.
func groupFields(set storage.SeriesSet) (map[string]*fieldSeries, error) {
	byField := map[string]*fieldSeries{}
	for set.Next() {
		sr := set.At()
		ls := sr.Labels()
		f := ls.Get(LabelField)
		fs := byField[f]
		if fs == nil {
			fs = &fieldSeries{}
			byField[f] = fs
		}
		switch ls.Get(promModel.MetricNameLabel) {
		case MetricValue:
			fs.values = append(fs.values, sr)
		case MetricQuality:
			fs.quality = sr
		case MetricState:
			fs.states = append(fs.states, sr)
		}
	}
	return byField, set.Err()
}

// selectRaw streams the series of a checked q from the raw store.
func (s *TSDB) selectRaw(ctx context.Context, q Query, fn func(Series) error) error {
	mint, maxt := bounds(&q)
	qr, err := s.db.Querier(mint, maxt)
	if err != nil {
		return fmt.Errorf("history: query %s/%s: %w", q.Layer, q.Collection, err)
	}
	defer qr.Close()
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
		if ids, _, err = qr.LabelValues(ctx, LabelID, nil, base...); err != nil {
			return fmt.Errorf("history: list documents of %s/%s: %w", q.Layer, q.Collection, err)
		}
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		ms := append(slices.Clone(base), labels.MustNewMatcher(labels.MatchEqual, LabelID, id))
		byField, err := groupFields(qr.Select(ctx, false, &storage.SelectHints{Start: mint, End: maxt}, ms...))
		if err != nil {
			return fmt.Errorf("history: query %s: %w", id, err)
		}
		for _, f := range slices.Sorted(func(yield func(string) bool) {
			for k := range byField {
				if !yield(k) {
					return
				}
			}
		}) {
			var iterErr error
			raw := rawPoints(byField[f], mint, maxt, &iterErr)
			pts := raw
			if q.Step > 0 {
				pts = aggregate(raw, q.Step.Milliseconds(), q.Agg)
			}
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
