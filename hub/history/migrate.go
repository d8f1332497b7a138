package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// Sink takes the samples of a migration: Append them, then Flush makes
// them durable.
type Sink interface {
	Appender
	// Flush makes what was appended durable.
	Flush(ctx context.Context) error
}

// MigrateResult says what a migration of legacy history did.
type MigrateResult struct {
	// Collections counts the collections migrated (and dropped).
	Collections int
	// Points counts the legacy points read.
	Points int
	// Written counts the samples stored.
	Written int
	// Unchanged counts string samples not stored because the state did not
	// change.
	Unchanged int
	// Skipped counts points that are not measurements (earlier versions
	// kept every field an edge set; history keeps measurements).
	Skipped int
	// Refused counts samples the sink refused (a different value for a
	// time already stored; older than the retention).
	Refused int
}

// legacyBatch is how many legacy points are read and appended at a time.
const legacyBatch = 20000

// MigrateLegacy moves the per-reading history documents that earlier
// versions kept in the store (store.LegacyHistory) into sink: every
// measurement point becomes samples; then, once the sink has flushed, the
// legacy history is dropped. An error leaves the legacy history in place
// (a later start tries again), so nothing is lost or silently ignored.
func MigrateLegacy(ctx context.Context, st store.LegacyHistory, sink Sink, log *slog.Logger) (MigrateResult, error) {
	var res MigrateResult
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cols, err := st.LegacyHistoryCollections(ctx)
	if err != nil || len(cols) == 0 {
		return res, err
	}
	start := time.Now()
	log.Warn("history: migrating the per-reading history of an earlier version into the time-series store", "collections", len(cols))
	samples := make([]Sample, 0, legacyBatch)
	for _, c := range cols {
		err := st.ScanLegacyHistory(ctx, c.Layer, c.Collection, legacyBatch, func(pts []store.Point) error {
			samples = samples[:0]
			for _, p := range pts {
				res.Points++
				m, ok := model.MeasurementOf(p.Value)
				if !ok || p.Field == model.MeasurementsTimestampField {
					res.Skipped++
					continue
				}
				ts := m.Timestamp
				if ts.IsZero() {
					ts = p.TS
				}
				samples = append(samples, Sample{Layer: c.Layer, Collection: c.Collection, ID: p.ID, Field: p.Field, T: ts, Value: m.Value, Quality: m.Quality})
			}
			r, err := sink.Append(ctx, samples)
			if err != nil {
				return err
			}
			res.Written += r.Written
			res.Unchanged += r.Unchanged
			if r.Refused > 0 {
				if res.Refused == 0 {
					log.Warn("history: legacy points refused", "layer", c.Layer, "collection", c.Collection, "first", r.FirstRefusal)
				}
				res.Refused += r.Refused
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("history: migrate the legacy history of %s: %w", store.StoreName(c.Layer, c.Collection), err)
		}
	}
	if err := sink.Flush(ctx); err != nil {
		return res, fmt.Errorf("history: migrate the legacy history: %w", err)
	}
	for _, c := range cols {
		if err := st.DropLegacyHistory(ctx, c.Layer, c.Collection); err != nil {
			return res, fmt.Errorf("history: migrated; now drop the legacy history of %s: %w", store.StoreName(c.Layer, c.Collection), err)
		}
		res.Collections++
	}
	log.Warn("history: legacy history migrated and dropped", "collections", res.Collections, "points", res.Points,
		"written", res.Written, "notMeasurements", res.Skipped, "refused", res.Refused, "took", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// backfillBlockSize is the range of a backfill block's head: wide enough
// that no legacy point is out of its bounds (the head refuses samples more
// than half its range older than its newest).
const backfillBlockSize = int64(100 * 365 * 24 * time.Hour / time.Millisecond)

// backfillFlushAt is how many samples a backfill block holds before it is
// written out and a new one started (bounding the memory of a migration).
const backfillFlushAt = 5_000_000

// Backfill writes samples of any age into new blocks of an embedded tsdb
// directory (as promtool's backfill does), which OpenTSDB then loads;
// overlapping blocks are merged by the engine's compaction, identical
// samples are kept once. Samples of one field must come in time order.
// Use it before OpenTSDB on the same directory.
type Backfill struct {
	dir       string
	log       *slog.Logger
	w         *tsdb.BlockWriter
	n         int
	retention time.Duration
	states    map[string]stateMark
	scales    scaler
	// Blocks counts the blocks written.
	Blocks int
}

var _ Sink = (*Backfill)(nil)

// NewBackfill returns a backfill into dir; samples older than retention
// (0: DefaultRetention) are refused, as the engine would drop them.
func NewBackfill(dir string, retention time.Duration, log *slog.Logger) (*Backfill, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if retention == 0 {
		retention = DefaultRetention
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("history: create %s: %w", dir, err)
	}
	return &Backfill{dir: dir, log: log, retention: retention, states: map[string]stateMark{}, scales: scaler{}}, nil
}

// Append adds samples to the current block.
func (b *Backfill) Append(ctx context.Context, samples []Sample) (AppendResult, error) {
	var res AppendResult
	if b.w == nil {
		w, err := tsdb.NewBlockWriter(b.log, b.dir, backfillBlockSize)
		if err != nil {
			return res, fmt.Errorf("history: backfill: %w", err)
		}
		b.w = w
	}
	oldest := time.Now().Add(-b.retention).UnixMilli()
	app := b.w.Appender(ctx)
	refuse := func(sm *Sample, why string) {
		if res.Refused++; res.FirstRefusal == "" {
			res.FirstRefusal = fmt.Sprintf("%s %s %s at %s: %s", sm.Layer+"/"+sm.Collection, sm.ID, sm.Field, sm.T.UTC().Format(time.RFC3339Nano), why)
		}
	}
	put := func(metric string, sm *Sample, state string, t int64, v float64) (bool, error) {
		if _, err := app.Append(0, seriesLabels(metric, sm, state), t, v); err != nil {
			if refusal(err) {
				refuse(sm, err.Error())
				return false, nil
			}
			return false, err
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
		if t < oldest {
			refuse(sm, "older than the retention")
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
			if last, known := b.states[fk]; known && t > last.t && last.state == str && last.q == sm.Quality {
				res.Unchanged++
				continue
			}
			if ok, err = put(MetricState, sm, str, t, float64(sm.Quality)); err == nil && ok {
				b.states[fk] = stateMark{t: t, state: str, q: sm.Quality}
			}
		case sampleNull:
			ok, err = put(MetricQuality, sm, "", t, float64(sm.Quality))
		default:
			scale, x := b.scales.encode(seriesKey(MetricValue, sm, ""), v)
			if ok, err = put(MetricValue, sm, scale, t, x); err == nil && ok && sm.Quality != model.QualityGood {
				ok, err = put(MetricQuality, sm, "", t, float64(sm.Quality))
			}
		}
		if err != nil {
			_ = app.Rollback()
			return AppendResult{}, fmt.Errorf("history: backfill %s %s: %w", sm.ID, sm.Field, err)
		}
		if ok {
			res.Written++
		}
	}
	if err := app.Commit(); err != nil {
		return AppendResult{}, fmt.Errorf("history: backfill: commit %d samples: %w", len(samples), err)
	}
	if b.n += res.Written; b.n >= backfillFlushAt {
		if err := b.Flush(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Flush writes the current block into the directory.
func (b *Backfill) Flush(ctx context.Context) error {
	if b.w == nil {
		return nil
	}
	w := b.w
	b.w, b.n = nil, 0
	_, err := w.Flush(ctx)
	if errors.Is(err, tsdb.ErrNoSeriesAppended) {
		err = nil
	} else if err == nil {
		b.Blocks++
	}
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: backfill: write a block into %s: %w", b.dir, err)
	}
	return nil
}

// Flush of a TSDB has nothing to do: appends are durable in its WAL.
func (s *TSDB) Flush(context.Context) error { return nil }

// Flush of a Remote has nothing to do: appends are sent when they return.
func (r *Remote) Flush(context.Context) error { return nil }
