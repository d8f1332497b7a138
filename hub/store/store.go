// Package store defines the hub's layer/collection store: the Store interface
// that the REST API, the ingest applier and the other hub services use, and the
// types they exchange. Backends live in sub-packages (store/bolt, store/mongo)
// and pass one contract test suite.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// Sentinel errors; backends wrap them so callers decide with errors.Is.
var (
	// ErrNotFound: the layer, collection or document does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a document with that _id exists already.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request is malformed (bad name, bad document).
	ErrInvalid = errors.New("invalid")
)

// Document is a schema-free document. Only "_id" is required; the store
// maintains "_updated" (time.Time of the last write) and "_expired".
type Document = map[string]any

// Layer is a system or data domain (seed 3.1.2.1), stored in _layers.
type Layer struct {
	// ID is the layer's identifier (_id).
	ID string `json:"_id"`
	// Label is a short human name.
	Label string `json:"label,omitempty"`
	// Description says what the layer holds.
	Description string `json:"description,omitempty"`
	// Owner is the owning user or organisation.
	Owner string `json:"owner,omitempty"`
	// Category groups layers, e.g. "energy".
	Category string `json:"category,omitempty"`
	// Collections are the collections the layer manages.
	Collections []Collection `json:"collections"`
	// Config holds free-form layer settings.
	Config map[string]any `json:"config,omitempty"`
}

// Collection describes one collection of a layer.
type Collection struct {
	// Name is the collection's name inside the layer.
	Name string `json:"name"`
	// Label is a short human name.
	Label string `json:"label,omitempty"`
	// Geo tells whether documents carry a GeoJSON geometry.
	Geo bool `json:"geo,omitempty"`
	// Metrics lists the metric series kept for the collection.
	Metrics []string `json:"metrics,omitempty"`
	// Extra keeps other attributes of the seed's free-form collection object.
	Extra map[string]any `json:"-"`
}

// Collection returns the collection named name, or nil.
func (l *Layer) Collection(name string) *Collection {
	for i := range l.Collections {
		if l.Collections[i].Name == name {
			return &l.Collections[i]
		}
	}
	return nil
}

// CheckName reports whether s can name a layer (what = "layer") or a
// collection: letters, digits, '-' and, for collections only, '_'.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s name is empty", ErrInvalid, what)
	}
	if len(s) > 64 {
		return fmt.Errorf("%w: %s name %q is longer than 64 characters", ErrInvalid, what, s)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || (r == '_' && what != "layer")
		if !ok {
			return fmt.Errorf("%w: %s name %q may only hold letters, digits and '-'%s", ErrInvalid, what, s,
				map[bool]string{true: "", false: " and '_'"}[what == "layer"])
		}
	}
	return nil
}

// StoreName is the store name of a collection: <layer>_<collection>.
func StoreName(layer, collection string) string { return layer + "_" + collection }

// FindOptions narrow a query. Zero values mean "everything".
type FindOptions struct {
	// Match keeps documents for which it returns true; nil keeps all.
	Match func(Document) bool
	// Less orders the result; nil orders by _id.
	Less func(a, b Document) bool
	// Skip drops this many matching documents first.
	Skip int
	// Limit caps the number returned (0: no limit).
	Limit int
}

// Point is one historical value of one field of one document.
type Point struct {
	// ID is the document's _id.
	ID string `json:"_id"`
	// Field is the dotted field path.
	Field string `json:"field"`
	// TS is the time the value is for.
	TS time.Time `json:"timestamp"`
	// Value is the value written (for a measurement, its {value, quality, timestamp}).
	Value any `json:"value"`
}

// HistoryQuery selects history points of one collection.
type HistoryQuery struct {
	// ID restricts to one document ("" = all).
	ID string
	// Field restricts to one field path ("" = all).
	Field string
	// From and To bound TS (inclusive); zero means unbounded.
	From, To time.Time
	// Limit caps the number returned (0: no limit).
	Limit int
}

// Change describes one committed write, for change events.
type Change struct {
	// Op is "insert", "update" or "delete".
	Op string `json:"op"`
	// Layer and Collection name the collection.
	Layer string `json:"layer"`
	// Collection: see Layer.
	Collection string `json:"collection"`
	// ID is the document's _id.
	ID string `json:"id"`
	// Fields are the changed field paths (update only).
	Fields []string `json:"fields,omitempty"`
}

// ApplyOptions tune ApplyBatch.
type ApplyOptions struct {
	// CreateMissing creates unknown layers and collections named by the
	// batch instead of failing with ErrNotFound.
	CreateMissing bool
	// Now is the hub time recorded as _updated (default time.Now()).
	Now time.Time
}

// ApplyResult says what ApplyBatch did.
type ApplyResult struct {
	// Applied counts updates written.
	Applied int
	// Skipped counts updates at or below the edge's high-water mark (replays).
	Skipped int
	// Gap is how many sequence numbers are missing between the previous
	// high-water mark and this batch (updates the edge dropped).
	Gap uint64
	// Changes lists the documents written, for change events.
	Changes []Change
	// Created lists "layer" or "layer_collection" names created on the way.
	Created []string
}

// Store is the hub's store.
type Store interface {
	// Layers returns every layer, ordered by _id.
	Layers(ctx context.Context) ([]Layer, error)
	// Layer returns one layer or an error wrapping ErrNotFound.
	Layer(ctx context.Context, id string) (*Layer, error)
	// PutLayer creates or replaces a layer.
	PutLayer(ctx context.Context, l Layer) error
	// Get returns one document.
	Get(ctx context.Context, layer, collection, id string) (Document, error)
	// Find returns the documents of a collection that match.
	Find(ctx context.Context, layer, collection string, opts FindOptions) ([]Document, error)
	// History returns history points ordered by (document, field, time).
	History(ctx context.Context, layer, collection string, q HistoryQuery) ([]Point, error)
	// ApplyBatch applies an edge batch idempotently: updates with a sequence
	// number at or below the edge's high-water mark are skipped, and the new
	// high-water mark is stored in the same transaction as the writes.
	ApplyBatch(ctx context.Context, b *model.Batch, opts ApplyOptions) (ApplyResult, error)
	// HighWaterMark returns the last sequence number applied for edge.
	HighWaterMark(ctx context.Context, edge string) (uint64, error)
	// Close releases the store.
	Close() error
}

// SetPath sets a dotted path in doc, creating intermediate objects; a
// non-object in the way is replaced, as MongoDB's $set would refuse — we
// report it instead.
func SetPath(doc Document, path string, v any) error {
	parts := strings.Split(path, ".")
	cur := doc
	for i, p := range parts[:len(parts)-1] {
		next, ok := cur[p]
		if !ok || next == nil {
			m := map[string]any{}
			cur[p] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: cannot set %q: %q is not an object", ErrInvalid, path, strings.Join(parts[:i+1], "."))
		}
		cur = m
	}
	cur[parts[len(parts)-1]] = v
	return nil
}
