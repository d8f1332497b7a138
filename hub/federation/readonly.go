package federation

import (
	"context"
	"fmt"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// ErrReadOnly is returned for a write into an imported layer; it wraps
// auth.ErrForbidden, so the REST API answers 403, and store.ErrInvalid, so
// an edge batch writing there goes to the dead-letter stream.
var ErrReadOnly = fmt.Errorf("%w (%w): the layer is imported from a federated deployment and read-only here", auth.ErrForbidden, store.ErrInvalid)

// ReadOnly returns s with every write into the given imported layers (local
// layer → peer it comes from) refused with ErrReadOnly; reads pass. The
// importer writes through the undecorated store.
func ReadOnly(s store.Store, imported map[string]string) store.Store {
	if len(imported) == 0 {
		return s
	}
	return &readOnly{Store: s, imported: imported}
}

type readOnly struct {
	store.Store
	imported map[string]string
}

// Unwrap returns the decorated store.
func (r *readOnly) Unwrap() store.Store { return r.Store }

func (r *readOnly) check(layer string) error {
	if peer, ok := r.imported[layer]; ok {
		return fmt.Errorf("write to layer %q (imported from %q): %w", layer, peer, ErrReadOnly)
	}
	return nil
}

func (r *readOnly) PutLayer(ctx context.Context, l store.Layer) error {
	if err := r.check(l.ID); err != nil {
		return err
	}
	return r.Store.PutLayer(ctx, l)
}

func (r *readOnly) DeleteLayer(ctx context.Context, id string) error {
	if err := r.check(id); err != nil {
		return err
	}
	return r.Store.DeleteLayer(ctx, id)
}

func (r *readOnly) Insert(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	if err := r.check(layer); err != nil {
		return store.NewWriteResult(), err
	}
	return r.Store.Insert(ctx, layer, col, docs)
}

func (r *readOnly) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	if err := r.check(layer); err != nil {
		return nil, err
	}
	return r.Store.UpdateByID(ctx, layer, col, id, update)
}

func (r *readOnly) UpdateIf(ctx context.Context, layer, col, id string, sel *query.Selector, update map[string]any) ([]string, error) {
	if err := r.check(layer); err != nil {
		return nil, err
	}
	return r.Store.UpdateIf(ctx, layer, col, id, sel, update)
}

func (r *readOnly) UpdateMany(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	if err := r.check(layer); err != nil {
		return store.NewWriteResult(), err
	}
	return r.Store.UpdateMany(ctx, layer, col, docs)
}

func (r *readOnly) DeleteByID(ctx context.Context, layer, col, id string) error {
	if err := r.check(layer); err != nil {
		return err
	}
	return r.Store.DeleteByID(ctx, layer, col, id)
}

func (r *readOnly) DeleteMany(ctx context.Context, layer, col string, sel *query.Selector) (store.WriteResult, error) {
	if err := r.check(layer); err != nil {
		return store.NewWriteResult(), err
	}
	return r.Store.DeleteMany(ctx, layer, col, sel)
}

func (r *readOnly) Bulk(ctx context.Context, layer, col string, docs []store.Document, init bool) (store.WriteResult, error) {
	if err := r.check(layer); err != nil {
		return store.NewWriteResult(), err
	}
	return r.Store.Bulk(ctx, layer, col, docs, init)
}

// ApplyBatch refuses a batch that writes into an imported layer (an edge
// cannot write there either).
func (r *readOnly) ApplyBatch(ctx context.Context, b *model.Batch, opts store.ApplyOptions) (store.ApplyResult, error) {
	for i := range b.Updates {
		if err := r.check(b.Updates[i].Layer); err != nil {
			return store.ApplyResult{}, err
		}
	}
	return r.Store.ApplyBatch(ctx, b, opts)
}
