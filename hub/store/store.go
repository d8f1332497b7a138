// Package store defines the hub's layer/collection store: the Store interface
// that the REST API, the ingest applier and the other hub services use, and the
// types they exchange. Backends live in sub-packages (store/bolt, store/mongo)
// and pass one contract test suite.
package store

import (
	"context"
	"io"
	"time"

	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// Document is a schema-free document. Only "_id" is required; the store
// maintains "_updated" (time.Time of the last write) and "_expired".
type Document = map[string]any

// FindOptions narrow a query. Zero values mean "everything, by _id".
type FindOptions struct {
	// Selector keeps the matching documents (MongoDB query syntax); nil
	// keeps all.
	Selector *query.Selector
	// Sort orders the result; nil orders by _id ascending. Ties are broken
	// by _id so that pages are stable.
	Sort query.SortSpec
	// Projection selects the fields returned; nil returns whole documents.
	Projection *query.Projection
	// Skip drops this many matching documents first.
	Skip int
	// Limit caps the number returned (0: no limit).
	Limit int
}

// WriteResult reports a multi-document write, with partial success: the
// documents that could be written are, and each one that could not is
// counted in Err and named in ErrorIDs (seed 3.3.1.2.4). The JSON form is
// the seed's data object without the ids field, whose name depends on the
// operation (insertedIds, updatedIds, deletedIds): the REST layer adds it.
type WriteResult struct {
	// OK counts the documents written.
	OK int `json:"ok"`
	// IDs are the ids written (inserted, updated or deleted), in request order.
	IDs []string `json:"-"`
	// Err counts the documents that failed.
	Err int `json:"err"`
	// ErrorIDs are the ids of the failed documents ("" for a document
	// without an _id that failed), in request order.
	ErrorIDs []string `json:"errorIds"`
	// Errors gives one reason per failed document, parallel to ErrorIDs,
	// for logs and messages.
	Errors []string `json:"-"`
	// Changes are the committed changes, for change events (see WithChanges).
	Changes []Change `json:"-"`
}

// NewWriteResult returns an empty result whose IDs and ErrorIDs are empty
// slices (so they encode as [] rather than null, as the seed's responses
// have them). Backends return results made with it.
func NewWriteResult() WriteResult {
	return WriteResult{IDs: []string{}, ErrorIDs: []string{}, Errors: []string{}}
}

// Fail records a failed document; backends use it to fill a WriteResult.
func (r *WriteResult) Fail(id string, err error) {
	r.Err++
	r.ErrorIDs = append(r.ErrorIDs, id)
	r.Errors = append(r.Errors, err.Error())
}

// Succeed records a written document and its change event.
func (r *WriteResult) Succeed(c Change) {
	r.OK++
	r.IDs = append(r.IDs, c.ID)
	r.Changes = append(r.Changes, c)
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

// Store is the hub's store. Every method that names a layer or a collection
// fails with an error wrapping ErrNotFound, naming it, when it does not
// exist: writes never create layers or collections implicitly (only
// PutLayer and ApplyBatch with CreateMissing do). Dates are time.Time in
// UTC, kept to the millisecond (MongoDB's precision) by every backend.
type Store interface {
	// Layers returns every layer, ordered by _id.
	Layers(ctx context.Context) ([]Layer, error)
	// Layer returns one layer or an error wrapping ErrNotFound.
	Layer(ctx context.Context, id string) (*Layer, error)
	// PutLayer creates or replaces a layer. The data of a collection that the
	// new version no longer lists is kept and comes back if it is listed again.
	PutLayer(ctx context.Context, l Layer) error
	// DeleteLayer removes a layer and the documents, history and indexes of
	// all its collections.
	DeleteLayer(ctx context.Context, id string) error

	// Get returns one document.
	Get(ctx context.Context, layer, collection, id string) (Document, error)
	// Find returns the documents of a collection that match opts.Selector,
	// in opts.Sort order (default _id), after Skip, at most Limit, projected.
	Find(ctx context.Context, layer, collection string, opts FindOptions) ([]Document, error)
	// Count returns how many documents match sel (nil: all).
	Count(ctx context.Context, layer, collection string, sel *query.Selector) (int, error)
	// Range returns the documents whose date at field (a dotted path; the
	// REST layer defaults it to "timestamp") lies in [from, to], combined
	// with opts.Selector; without opts.Sort they come in field order.
	Range(ctx context.Context, layer, collection, field string, from, to time.Time, opts FindOptions) ([]Document, error)
	// Near returns the documents whose GeoJSON "geometry" lies within
	// maxMeters of (lon, lat) on a sphere of radius EarthRadius, nearest
	// first (unless opts.Sort is given), combined with opts.Selector. A
	// Point counts by its position; LineString, Polygon and the Multi*
	// types by their nearest vertex (a point inside a polygon but far from
	// its vertices does not match).
	Near(ctx context.Context, layer, collection string, lon, lat, maxMeters float64, opts FindOptions) ([]Document, error)

	// Insert inserts documents. A document without _id gets a generated one
	// (NewID); an _id that exists already (in the store or earlier in docs)
	// fails that document with ErrConflict while the others are inserted.
	// The store sets _updated, and _expired to false unless given.
	Insert(ctx context.Context, layer, collection string, docs []Document) (WriteResult, error)
	// UpdateByID applies a MongoDB update document to one document (plain
	// fields are a $set; operators as in query.ApplyUpdate) and returns the
	// changed paths. A missing document is ErrNotFound; a bad update is
	// ErrInvalid (wrapping query.ErrBadUpdate).
	UpdateByID(ctx context.Context, layer, collection, id string, update map[string]any) (changed []string, err error)
	// UpdateIf is UpdateByID done only while the document matches sel, in
	// one step: no other write lands between the check and the update (a
	// read-then-write without it can undo a concurrent write, e.g. mark
	// offline an edge whose heartbeat has just been stored). A document
	// that does not match is ErrUnmatched and is left as it is.
	UpdateIf(ctx context.Context, layer, collection, id string, sel *query.Selector, update map[string]any) (changed []string, err error)
	// UpdateMany applies, for each document, its fields other than _id as a
	// $set to the document with that _id (seed PATCH /:layer/:col); a missing
	// _id or document fails that document only.
	UpdateMany(ctx context.Context, layer, collection string, docs []Document) (WriteResult, error)
	// DeleteByID removes one document (ErrNotFound if missing).
	DeleteByID(ctx context.Context, layer, collection, id string) error
	// DeleteMany removes the documents matching sel (nil: all).
	DeleteMany(ctx context.Context, layer, collection string, sel *query.Selector) (WriteResult, error)
	// Bulk upserts documents by _id: an existing document gets the given
	// fields $set, a new one is inserted (without _id: generated). With
	// init, the collection is emptied first (reported as deletes of the
	// documents not written again); the bolt backend does it all in one
	// transaction.
	Bulk(ctx context.Context, layer, collection string, docs []Document, init bool) (WriteResult, error)

	// ApplyBatch applies an edge batch idempotently: updates with a sequence
	// number at or below the edge's high-water mark are skipped, and the
	// high-water mark only moves once the batch's writes are stored.
	ApplyBatch(ctx context.Context, b *model.Batch, opts ApplyOptions) (ApplyResult, error)
	// HighWaterMark returns the last sequence number applied for edge.
	HighWaterMark(ctx context.Context, edge string) (uint64, error)

	// PutFile stores a file in bucket ("" = DefaultBucket) and returns its
	// info; info.ID is generated when empty; Length, MD5, ChunkSize and
	// UploadDate are computed. An existing ID is ErrConflict.
	PutFile(ctx context.Context, bucket string, info FileInfo, r io.Reader) (FileInfo, error)
	// GetFile opens a file by key: its id, else the latest upload with that
	// filename. The caller closes the reader.
	GetFile(ctx context.Context, bucket, key string) (FileInfo, io.ReadCloser, error)
	// StatFile returns the info of a file by key (see GetFile).
	StatFile(ctx context.Context, bucket, key string) (FileInfo, error)
	// ListFiles returns the files of a bucket, by upload date then id.
	ListFiles(ctx context.Context, bucket string) ([]FileInfo, error)
	// DeleteFile removes a file by key (see GetFile).
	DeleteFile(ctx context.Context, bucket, key string) error
	// PatchFileMetadata sets the given metadata fields of a file (a nil
	// value removes the field) and returns the new info.
	PatchFileMetadata(ctx context.Context, bucket, key string, md map[string]any) (FileInfo, error)

	// Close releases the store.
	Close() error
}
