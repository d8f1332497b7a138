package store

import (
	"context"
	"time"
)

// Point is one per-reading history document of an earlier version: the
// value written to one field of one document.
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

// LegacyCollection names a collection that holds legacy history.
type LegacyCollection struct {
	// Layer and Collection name the collection.
	Layer, Collection string
}

// LegacyHistory is implemented by the backends whose data may hold the
// per-reading history documents that earlier versions wrote (the bolt
// bucket "history" of each collection, the MongoDB collections
// <layer>_<collection>.history). The hub no longer writes them (history
// lives in a time-series engine, hub/history); at start it moves what it
// finds into that engine and drops it.
type LegacyHistory interface {
	// LegacyHistoryCollections lists the collections holding legacy
	// history, ordered by layer and collection.
	LegacyHistoryCollections(ctx context.Context) ([]LegacyCollection, error)
	// ScanLegacyHistory calls fn with the points of one collection in
	// batches of at most batch points, in (document, field, time) order;
	// it stops at fn's first error, which it returns.
	ScanLegacyHistory(ctx context.Context, layer, collection string, batch int, fn func([]Point) error) error
	// DropLegacyHistory removes the legacy history of one collection.
	DropLegacyHistory(ctx context.Context, layer, collection string) error
}
