package history

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// Recorder is the one place where measurement writes enter the history: a
// store decorator (like store.WithChanges) that, after a write committed,
// appends the measurement points it wrote. Edge batches (ApplyBatch: the
// updates above the edge's high-water mark) and REST/NATS writes (Insert,
// UpdateByID, UpdateMany, Bulk: the measurements.<name> they set, with their
// own timestamps) all pass through it. A history failure does not undo the
// document write: it is logged, and samples refused (older than the
// out-of-order window) are counted, per edge for batches.
type Recorder struct {
	store.Store
	app Appender
	log *slog.Logger
	now func() time.Time

	errors  atomic.Uint64
	mu      sync.Mutex
	refused map[string]uint64 // edge ("" for REST writes) → samples refused
}

var _ store.Store = (*Recorder)(nil)

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

// Errors counts appends that failed as a whole.
func (r *Recorder) Errors() uint64 { return r.errors.Load() }

// Unwrap returns the decorated store, so that what looks through
// decorators (store.ExplainFind, store.GetJSON) finds the backend.
func (r *Recorder) Unwrap() store.Store { return r.Store }

func (r *Recorder) record(ctx context.Context, edge string, samples []Sample) {
	if len(samples) == 0 {
		return
	}
	// the document write committed: the history is written even when the
	// caller's context ends now
	res, err := r.app.Append(context.WithoutCancel(ctx), samples)
	if err != nil {
		r.errors.Add(1)
		r.log.Error("history: write failed; the documents were written", "edge", edge, "samples", len(samples), "err", err)
		return
	}
	if res.Refused > 0 {
		r.mu.Lock()
		r.refused[edge] += uint64(res.Refused)
		r.mu.Unlock()
		r.log.Warn("history: samples refused (older than history.outOfOrderWindow, or a different value for a stored time)",
			"edge", edge, "refused", res.Refused, "first", res.FirstRefusal)
	}
}

// ApplyBatch applies the batch, then records the updates it applied.
func (r *Recorder) ApplyBatch(ctx context.Context, b *model.Batch, opts store.ApplyOptions) (store.ApplyResult, error) {
	res, err := r.Store.ApplyBatch(ctx, b, opts)
	if err != nil || res.Applied == 0 {
		return res, err
	}
	// updates at or below the high-water mark (skipped) come first
	var samples []Sample
	for i := min(res.Skipped, len(b.Updates)); i < len(b.Updates); i++ {
		samples = SamplesOfUpdate(&b.Updates[i], samples)
	}
	r.record(ctx, b.Edge, samples)
	return res, nil
}

// recordChanges records the measurements that committed REST writes set,
// reading each changed document back (its stored, normalised form).
func (r *Recorder) recordChanges(ctx context.Context, layer, col string, changes []store.Change) {
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
	r.record(ctx, "", samples)
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
	r.recordChanges(ctx, layer, col, res.Changes)
	return res, err
}

// UpdateByID updates, then records the measurements it set.
func (r *Recorder) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	changed, err := r.Store.UpdateByID(ctx, layer, col, id, update)
	if err == nil {
		r.recordChanges(ctx, layer, col, []store.Change{{Op: store.OpUpdate, ID: id, Fields: changed}})
	}
	return changed, err
}

// UpdateMany updates, then records the measurements it set.
func (r *Recorder) UpdateMany(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res, err := r.Store.UpdateMany(ctx, layer, col, docs)
	r.recordChanges(ctx, layer, col, res.Changes)
	return res, err
}

// Bulk upserts, then records the measurements it set.
func (r *Recorder) Bulk(ctx context.Context, layer, col string, docs []store.Document, init bool) (store.WriteResult, error) {
	res, err := r.Store.Bulk(ctx, layer, col, docs, init)
	r.recordChanges(ctx, layer, col, res.Changes)
	return res, err
}
