package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// Recorder is the one place where measurement writes enter the history: a
// store decorator (like store.WithChanges) that records the measurement
// points written. Edge batches (ApplyBatch: the updates above the edge's
// high-water mark) and REST/NATS writes (Insert, UpdateByID, UpdateMany,
// Bulk: the measurements.<name> they set, with their own timestamps) all
// pass through it.
//
// An edge batch's samples are appended BEFORE the store commits the batch
// (history appends are idempotent for identical points, and a batch's
// samples depend on the batch alone), so that a reading the store accepted
// is always in the history: a hub killed between the append and the commit
// gets the batch again from JetStream, appends the same points again
// (changing nothing) and commits. When the append fails (a remote history
// backend unreachable), ApplyBatch commits nothing and returns an error
// wrapping ErrNotRecorded: the ingest applier tries the batch again with a
// backoff, the edge and its stream buffering meanwhile. Samples the history
// refuses (older than the out-of-order window) are not a failure: they are
// counted per edge and the documents are written.
//
// REST and NATS writes are recorded after their commit, from the stored
// documents: when that append fails, the write returns an error wrapping
// ErrNotRecorded (the documents were written; writing the same values again
// records them), and a hub killed between the commit and the append loses
// those samples (the client sees its request fail and may retry).
type Recorder struct {
	store.Store
	app Appender
	log *slog.Logger
	now func() time.Time

	errors  atomic.Uint64
	held    atomic.Uint64
	mu      sync.Mutex
	refused map[string]uint64 // edge ("" for REST writes) → samples refused
}

var _ store.Store = (*Recorder)(nil)

// ErrNotRecorded wraps the error of a history append that failed as a
// whole (the backend unreachable, closed): for an edge batch, nothing was
// committed and the batch is to be applied again; for a REST or NATS
// write, the documents were written but not their history.
var ErrNotRecorded = errors.New("history: measurements not recorded")

// NewRecorder returns st recording measurement writes into app.
func NewRecorder(st store.Store, app Appender, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{Store: st, app: app, log: log, now: time.Now, refused: map[string]uint64{}}
}

// Refused returns how many samples of edge's batches the history refused
// ("" counts REST and NATS writes).
func (r *Recorder) Refused(edge string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused[edge]
}

// Errors counts appends that failed as a whole: edge batches held back
// (not committed, to be applied again) and REST/NATS writes whose history
// was not written.
func (r *Recorder) Errors() uint64 { return r.errors.Load() }

// Held counts the edge batches (or merged runs of batches) that were not
// committed because their history could not be written; each is applied
// again by the ingest applier.
func (r *Recorder) Held() uint64 { return r.held.Load() }

// Unwrap returns the decorated store, so that what looks through
// decorators (store.ExplainFind, store.GetJSON) finds the backend.
func (r *Recorder) Unwrap() store.Store { return r.Store }

// record appends samples; edge is "" for REST and NATS writes. An append
// that fails as a whole is counted and returned wrapping ErrNotRecorded
// (store.ErrInvalid too when the samples themselves are invalid).
func (r *Recorder) record(ctx context.Context, edge string, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	res, err := r.app.Append(ctx, samples)
	if err != nil {
		r.errors.Add(1)
		if errors.Is(err, ErrInvalid) {
			return fmt.Errorf("%w: %w: %w", ErrNotRecorded, store.ErrInvalid, err)
		}
		return fmt.Errorf("%w (%d samples): %w", ErrNotRecorded, len(samples), err)
	}
	if res.Refused > 0 {
		r.mu.Lock()
		r.refused[edge] += uint64(res.Refused)
		r.mu.Unlock()
		r.log.Warn("history: samples refused (older than history.outOfOrderWindow, or a different value for a stored time)",
			"edge", edge, "refused", res.Refused, "first", res.FirstRefusal)
	}
	return nil
}

// ApplyBatch records the samples of the updates above the edge's
// high-water mark, then applies the batch. When the history append fails,
// nothing is applied and the error wraps ErrNotRecorded.
func (r *Recorder) ApplyBatch(ctx context.Context, b *model.Batch, opts store.ApplyOptions) (store.ApplyResult, error) {
	hwm, err := r.Store.HighWaterMark(ctx, b.Edge)
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("history: read the high-water mark of edge %q before recording batch %d-%d: %w", b.Edge, b.SeqFirst, b.SeqLast, err)
	}
	if b.SeqLast > hwm {
		var samples []Sample
		for i := range b.Updates {
			if b.SeqFirst+uint64(i) > hwm {
				samples = SamplesOfUpdate(&b.Updates[i], samples)
			}
		}
		if err := r.record(ctx, b.Edge, samples); err != nil {
			r.held.Add(1)
			r.log.Error("history: write failed; the batch is not applied and will be tried again", "edge", b.Edge,
				"seq_first", b.SeqFirst, "seq_last", b.SeqLast, "samples", len(samples), "err", err)
			return store.ApplyResult{}, fmt.Errorf("apply batch %d-%d of edge %q: %w", b.SeqFirst, b.SeqLast, b.Edge, err)
		}
	}
	return r.Store.ApplyBatch(ctx, b, opts)
}

// recordChanges records the measurements that committed REST writes set,
// reading each changed document back (its stored, normalised form).
func (r *Recorder) recordChanges(ctx context.Context, layer, col string, changes []store.Change) error {
	var samples []Sample
	now := r.now()
	for _, c := range changes {
		if (c.Op != store.OpInsert && c.Op != store.OpUpdate) || !touchesMeasurements(c.Fields) {
			continue
		}
		doc, err := r.Store.Get(ctx, layer, col, c.ID)
		if err != nil {
			r.log.Warn("history: read back a written document", "layer", layer, "collection", col, "id", c.ID, "err", err)
			continue
		}
		samples = append(samples, SamplesOf(layer, col, c.ID, doc, c.Fields, now)...)
	}
	// the documents are written: their history is written even when the
	// caller's context ends now
	if err := r.record(context.WithoutCancel(ctx), "", samples); err != nil {
		r.log.Error("history: write failed; the documents were written, their history was not", "layer", layer, "collection", col,
			"samples", len(samples), "err", err)
		return fmt.Errorf("%s/%s: the documents were written; write them again to record their measurements: %w", layer, col, err)
	}
	return nil
}

func touchesMeasurements(fields []string) bool {
	for _, f := range fields {
		if f == "measurements" || len(f) > len(model.MeasurementsPrefix) && f[:len(model.MeasurementsPrefix)] == model.MeasurementsPrefix {
			return true
		}
	}
	return false
}

// Insert inserts, then records the inserted measurements.
func (r *Recorder) Insert(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res, err := r.Store.Insert(ctx, layer, col, docs)
	return res, joinErr(err, r.recordChanges(ctx, layer, col, res.Changes))
}

// UpdateByID updates, then records the measurements it set: those it
// changed and those it wrote again unchanged (a write repeated after its
// history failed records it; identical points change nothing).
func (r *Recorder) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	changed, err := r.Store.UpdateByID(ctx, layer, col, id, update)
	if err != nil {
		return changed, err
	}
	return changed, r.recordUpdate(ctx, layer, col, id, update, changed)
}

// UpdateIf updates if the document matches sel, then records as
// UpdateByID.
func (r *Recorder) UpdateIf(ctx context.Context, layer, col, id string, sel *query.Selector, update map[string]any) ([]string, error) {
	changed, err := r.Store.UpdateIf(ctx, layer, col, id, sel, update)
	if err != nil {
		return changed, err
	}
	return changed, r.recordUpdate(ctx, layer, col, id, update, changed)
}

// recordUpdate records the measurements an update of id set.
func (r *Recorder) recordUpdate(ctx context.Context, layer, col, id string, update map[string]any, changed []string) error {
	var set []string
	for k, v := range update {
		if k == "$set" {
			if m, ok := v.(map[string]any); ok {
				set = timedMeasurements(m, set)
			}
		} else if len(k) > 0 && k[0] != '$' {
			set = timedMeasurements(map[string]any{k: v}, set)
		}
	}
	fields := store.MergeFields(changed, set)
	return r.recordChanges(ctx, layer, col, []store.Change{{Op: store.OpUpdate, ID: id, Fields: fields}})
}

// UpdateMany updates, then records the measurements it set (changed or
// written again unchanged, as UpdateByID).
func (r *Recorder) UpdateMany(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res, err := r.Store.UpdateMany(ctx, layer, col, docs)
	if err != nil {
		return res, joinErr(err, r.recordChanges(ctx, layer, col, res.Changes))
	}
	return res, r.recordChanges(ctx, layer, col, withRewrites(res, docs))
}

// Bulk upserts, then records the measurements it set (changed or written
// again unchanged, as UpdateByID).
func (r *Recorder) Bulk(ctx context.Context, layer, col string, docs []store.Document, init bool) (store.WriteResult, error) {
	res, err := r.Store.Bulk(ctx, layer, col, docs, init)
	if err != nil {
		return res, joinErr(err, r.recordChanges(ctx, layer, col, res.Changes))
	}
	return res, r.recordChanges(ctx, layer, col, withRewrites(res, docs))
}

// withRewrites returns res's changes with, for each document of docs
// written without error, the timed measurements it names (a document
// written again unchanged after its history failed is recorded then).
func withRewrites(res store.WriteResult, docs []store.Document) []store.Change {
	changes := slices.Clone(res.Changes)
	idx := map[string]int{}
	for i, c := range changes {
		idx[c.ID] = i
	}
	failed := map[string]bool{}
	for _, id := range res.ErrorIDs {
		failed[id] = true
	}
	for _, d := range docs {
		id, _ := d[store.FieldID].(string)
		if id == "" || failed[id] {
			continue
		}
		fields := timedMeasurements(d, nil)
		if len(fields) == 0 {
			continue
		}
		if i, ok := idx[id]; ok {
			changes[i].Fields = store.MergeFields(changes[i].Fields, fields)
			continue
		}
		idx[id] = len(changes)
		changes = append(changes, store.Change{Op: store.OpUpdate, ID: id, Fields: store.MergeFields(nil, fields)})
	}
	return changes
}

// timedMeasurements appends to out the paths measurements.<name> of the
// measurements that fields (a document or a $set) writes with a timestamp:
// written again unchanged, they are the same points. A measurement without
// a timestamp is timed by the hub's clock, so it is recorded only when its
// write changed it.
func timedMeasurements(fields map[string]any, out []string) []string {
	timed := func(v any) bool {
		m, ok := model.MeasurementOf(v)
		return ok && !m.Timestamp.IsZero()
	}
	for k, v := range fields {
		if k == "measurements" {
			ms, _ := v.(map[string]any)
			for name, m := range ms {
				if timed(m) {
					out = append(out, model.MeasurementsPrefix+name)
				}
			}
			continue
		}
		if name, ok := strings.CutPrefix(k, model.MeasurementsPrefix); ok && !strings.Contains(name, ".") && timed(v) {
			out = append(out, k)
		}
	}
	return out
}

// joinErr returns the write's error err, joined with the history's error
// herr when there is one.
func joinErr(err, herr error) error {
	if herr == nil {
		return err
	}
	return errors.Join(err, herr)
}
