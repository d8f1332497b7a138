package store

import (
	"context"
	"slices"

	"github.com/gridedge/gridedge/hub/store/query"
)

// Change operations.
const (
	// OpInsert: a document was created.
	OpInsert = "insert"
	// OpUpdate: fields of a document changed.
	OpUpdate = "update"
	// OpDelete: a document was removed.
	OpDelete = "delete"
	// OpDrop: every document of the collection was removed (DeleteLayer);
	// ID is empty.
	OpDrop = "drop"
)

// Change describes one committed write, for change events published on
// <domain>.storage.changed.<layer>.<collection>.
type Change struct {
	// Op is OpInsert, OpUpdate, OpDelete or OpDrop.
	Op string `json:"op"`
	// Layer and Collection name the collection.
	Layer string `json:"layer"`
	// Collection: see Layer.
	Collection string `json:"collection"`
	// ID is the document's _id.
	ID string `json:"id"`
	// Fields are the changed field paths (update), or the top-level fields
	// of the new document (insert); sorted; the maintained _updated is not
	// listed.
	Fields []string `json:"fields,omitempty"`
}

// TopFields returns the sorted top-level fields of doc other than _id and
// _updated (the Fields of an insert Change).
func TopFields(doc Document) []string {
	out := make([]string, 0, len(doc))
	for k := range doc {
		if k != FieldID && k != FieldUpdated {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// MergeFields returns the sorted union of two lists of field paths, for a
// Change that several writes to one document make.
func MergeFields(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// WithChanges returns s with every committed write reported to publish,
// after the write returned: Insert, UpdateByID, UpdateIf, UpdateMany, DeleteByID,
// DeleteMany, Bulk and DeleteLayer (one OpDrop per collection). The hub
// publishes them on <domain>.storage.changed.<layer>.<collection>
// (shared/subject.StorageChanged). A write that fails as a whole reports
// nothing; a partial success reports the documents written.
//
// ApplyBatch is not reported: its ApplyResult carries the Changes, and the
// ingest applier publishes them itself, so that wrapping the store given to
// the applier does not publish twice. File writes are not document changes
// and are not reported either.
//
// publish is called on the writer's goroutine and must not block for long.
func WithChanges(s Store, publish func(Change)) Store {
	return &changeStore{Store: s, publish: publish}
}

type changeStore struct {
	Store
	publish func(Change)
}

// Unwrap returns the decorated store (for ExplainFind).
func (c *changeStore) Unwrap() Store { return c.Store }

func (c *changeStore) emit(changes []Change) {
	for _, ch := range changes {
		c.publish(ch)
	}
}

func (c *changeStore) Insert(ctx context.Context, layer, col string, docs []Document) (WriteResult, error) {
	res, err := c.Store.Insert(ctx, layer, col, docs)
	c.emit(res.Changes)
	return res, err
}

func (c *changeStore) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	changed, err := c.Store.UpdateByID(ctx, layer, col, id, update)
	if err == nil && len(changed) > 0 {
		c.publish(Change{Op: OpUpdate, Layer: layer, Collection: col, ID: id, Fields: changed})
	}
	return changed, err
}

func (c *changeStore) UpdateIf(ctx context.Context, layer, col, id string, sel *query.Selector, update map[string]any) ([]string, error) {
	changed, err := c.Store.UpdateIf(ctx, layer, col, id, sel, update)
	if err == nil && len(changed) > 0 {
		c.publish(Change{Op: OpUpdate, Layer: layer, Collection: col, ID: id, Fields: changed})
	}
	return changed, err
}

func (c *changeStore) UpdateMany(ctx context.Context, layer, col string, docs []Document) (WriteResult, error) {
	res, err := c.Store.UpdateMany(ctx, layer, col, docs)
	c.emit(res.Changes)
	return res, err
}

func (c *changeStore) DeleteByID(ctx context.Context, layer, col, id string) error {
	err := c.Store.DeleteByID(ctx, layer, col, id)
	if err == nil {
		c.publish(Change{Op: OpDelete, Layer: layer, Collection: col, ID: id})
	}
	return err
}

func (c *changeStore) DeleteMany(ctx context.Context, layer, col string, sel *query.Selector) (WriteResult, error) {
	res, err := c.Store.DeleteMany(ctx, layer, col, sel)
	c.emit(res.Changes)
	return res, err
}

func (c *changeStore) Bulk(ctx context.Context, layer, col string, docs []Document, init bool) (WriteResult, error) {
	res, err := c.Store.Bulk(ctx, layer, col, docs, init)
	c.emit(res.Changes)
	return res, err
}

func (c *changeStore) DeleteLayer(ctx context.Context, id string) error {
	l, lerr := c.Store.Layer(ctx, id)
	err := c.Store.DeleteLayer(ctx, id)
	if err == nil && lerr == nil {
		for _, col := range l.Collections {
			c.publish(Change{Op: OpDrop, Layer: id, Collection: col.Name})
		}
	}
	return err
}
