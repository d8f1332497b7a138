// Package bolt is the embedded store backend: one bbolt file holding layers,
// documents, secondary indexes, per-document field history, files and the
// per-edge high-water marks of the ingest applier.
//
// File layout (buckets):
//
//	_layers                       layer id → layer JSON
//	_edges                        edge id → high-water mark (8 bytes, big-endian)
//	c/<layer>_<collection>        collection bucket with sub-buckets:
//	    docs                      _id → document JSON
//	    updated                   _updated (8 bytes, ms) _id → empty: the _updated index
//	    ix                        index name → state (declaration, building|ready|failed, counts)
//	    i/<name>                  index key components _id → _id (see indexkey.go, geoindex.go)
//	    history                   _id 0x00 field 0x00 ts(8 bytes) seq(8) → value JSON
//	f/<bucket>                    files bucket with sub-buckets:
//	    files                     file id → FileInfo JSON
//	    chunks                    file id 0x00 n(4 bytes) → up to 255 KiB of content
//
// Dates are stored as {"$date": RFC 3339} so that they come back as
// time.Time, as they do from MongoDB.
//
// # Query cost
//
// Find, Count, DeleteMany, Range and Near go through the planner (plan.go):
// _id lookups, a secondary index (equality, $in, range, prefix $regex,
// sort), the _updated index, or a collection scan that decodes only the
// fields the selector reads (lazy.go). Every candidate is still checked
// with the full selector. Near uses a "2dsphere" index on geometry when
// the collection declares one (geoindex.go). Indexes are maintained in the
// transaction of every document write (index.go) and built in the
// background when declared on a collection that holds documents
// (build.go). History (by document, field, time) is served by key-prefix
// scans of the history bucket. Files are looked up by id with one key
// read; by filename with a scan of the bucket's file entries. See
// docs/store.md for the figures.
package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

var (
	bucketLayers  = []byte("_layers")
	bucketEdges   = []byte("_edges")
	bucketDocs    = []byte("docs")
	bucketUpdated = []byte("updated")
)

func collBucket(layer, col string) []byte { return []byte("c/" + store.StoreName(layer, col)) }

// Store is the bbolt backend.
type Store struct {
	db  *bbolt.DB
	now func() time.Time
	log *slog.Logger

	// background index builds, cancelled and waited for by Close
	buildCtx   context.Context
	stopBuilds context.CancelFunc
	builds     sync.WaitGroup
	mu         sync.Mutex
	building   map[string]bool
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock used for _updated (tests pass a fake one).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens or creates the store file at path.
func Open(path string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketLayers, bucketEdges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: initialise %s: %w", path, err)
	}
	s := &Store{db: db, now: time.Now, log: slog.New(slog.DiscardHandler), building: map[string]bool{}}
	s.buildCtx, s.stopBuilds = newBuildContext()
	for _, o := range opts {
		o(s)
	}
	// a file written before indexes existed gets the default ones, and
	// builds interrupted by a crash or Close resume
	err = db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLayers).ForEach(func(k, v []byte) error {
			var l store.Layer
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("decode layer %q: %w", k, err)
			}
			for _, c := range l.Collections {
				if tx.Bucket(collBucket(l.ID, c.Name)) == nil {
					continue
				}
				if err := syncIndexes(tx, l.ID, c); err != nil {
					return fmt.Errorf("indexes of %s: %w", store.StoreName(l.ID, c.Name), err)
				}
			}
			return nil
		})
	})
	if err == nil {
		err = s.startBuilds()
	}
	if err != nil {
		s.stopBuilds()
		db.Close()
		return nil, fmt.Errorf("store: initialise indexes of %s: %w", path, err)
	}
	return s, nil
}

// Close stops the index builds (they resume at the next Open) and closes
// the file.
func (s *Store) Close() error {
	s.stopBuilds()
	s.builds.Wait()
	return s.db.Close()
}

func (s *Store) clock() time.Time { return store.Timestamp(s.now()) }

// Layers returns every layer ordered by _id.
func (s *Store) Layers(ctx context.Context) ([]store.Layer, error) {
	out := []store.Layer{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLayers).ForEach(func(k, v []byte) error {
			var l store.Layer
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("decode layer %q: %w", k, err)
			}
			out = append(out, l)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list layers: %w", err)
	}
	return out, nil
}

// Layer returns one layer.
func (s *Store) Layer(ctx context.Context, id string) (*store.Layer, error) {
	var l *store.Layer
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		l, err = getLayer(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return l, nil
}

// getLayer returns a copy of a layer as stored in tx, which the caller may
// change (layerView shares it read-only).
func getLayer(tx *bbolt.Tx, id string) (*store.Layer, error) {
	l, err := layerView(tx, id)
	if err != nil {
		return nil, err
	}
	return l.Clone(), nil
}

func putLayer(tx *bbolt.Tx, l *store.Layer) error {
	if err := store.ValidateLayer(l); err != nil {
		return err
	}
	for _, c := range l.Collections {
		if _, err := tx.CreateBucketIfNotExists(collBucket(l.ID, c.Name)); err != nil {
			return err
		}
		if err := syncIndexes(tx, l.ID, c); err != nil {
			return fmt.Errorf("indexes of collection %q: %w", c.Name, err)
		}
	}
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLayers).Put([]byte(l.ID), data)
}

// PutLayer creates or replaces a layer and creates its collections.
func (s *Store) PutLayer(ctx context.Context, l store.Layer) error {
	if err := s.db.Update(func(tx *bbolt.Tx) error { return putLayer(tx, &l) }); err != nil {
		return fmt.Errorf("store: put layer %q: %w", l.ID, err)
	}
	return s.startBuilds()
}

// DeleteLayer removes a layer and every collection bucket of it (also those
// of collections it no longer lists).
func (s *Store) DeleteLayer(ctx context.Context, id string) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := getLayer(tx, id); err != nil {
			return err
		}
		// Layer ids have no '_', so this prefix is only this layer's.
		prefix := "c/" + id + "_"
		var names [][]byte
		err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			if strings.HasPrefix(string(name), prefix) {
				names = append(names, append([]byte(nil), name...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := tx.DeleteBucket(n); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketLayers).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("store: delete layer %q: %w", id, err)
	}
	return nil
}

// coll is one collection inside a transaction.
type coll struct {
	name          string
	cb            *bbolt.Bucket
	docs, updated *bbolt.Bucket
	// secondary indexes, loaded on first use (loadIndexes)
	ixs      []*index
	ixLoaded bool
}

// collection returns the buckets of a collection, or ErrNotFound naming
// the layer or collection. In a read transaction a collection never written
// to may have nil sub-buckets: callers treat it as empty.
func collection(tx *bbolt.Tx, layer, col string) (*coll, error) {
	l, err := layerView(tx, layer)
	if err != nil {
		return nil, err
	}
	var cb *bbolt.Bucket
	if l.Collection(col) != nil {
		cb = tx.Bucket(collBucket(layer, col))
	}
	if cb == nil {
		return nil, fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	c := &coll{name: store.StoreName(layer, col), cb: cb, docs: cb.Bucket(bucketDocs), updated: cb.Bucket(bucketUpdated)}
	if tx.Writable() {
		for _, b := range []struct {
			p    **bbolt.Bucket
			name []byte
		}{{&c.docs, bucketDocs}, {&c.updated, bucketUpdated}} {
			if *b.p == nil {
				if *b.p, err = cb.CreateBucket(b.name); err != nil {
					return nil, err
				}
			}
		}
	}
	return c, nil
}

func (c *coll) empty() bool { return c.docs == nil }

// get returns a document, or nil when absent.
func (c *coll) get(id string) (store.Document, error) {
	if c.docs == nil {
		return nil, nil
	}
	v := c.docs.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	d, err := decodeDoc(v)
	if err != nil {
		return nil, fmt.Errorf("document %q in %s: %w", id, c.name, err)
	}
	return d, nil
}

// updatedKey is the _updated index key: milliseconds with the sign bit
// flipped (so that negative times sort first), then the id.
func updatedKey(t time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(t.UnixMilli())^(1<<63))
	return append(k, id...)
}

func updatedOf(doc store.Document) (time.Time, bool) {
	t, ok := doc[store.FieldUpdated].(time.Time)
	return t, ok
}

// put stores doc (with its _updated) under id, replacing old (nil: none),
// and maintains the _updated index and the secondary indexes. A unique
// index violation is an ErrConflict returned before anything is written.
func (c *coll) put(id string, doc, old store.Document) error {
	chs, err := c.planIndexWrite(id, doc, old)
	if err != nil {
		return err
	}
	if err := applyIndexChanges(chs, id); err != nil {
		return err
	}
	if old != nil {
		if t, ok := updatedOf(old); ok {
			if err := c.updated.Delete(updatedKey(t, id)); err != nil {
				return err
			}
		}
	}
	enc, err := encodeValue(doc)
	if err != nil {
		return fmt.Errorf("document %q: %w", id, err)
	}
	if err := c.docs.Put([]byte(id), enc); err != nil {
		return err
	}
	if t, ok := updatedOf(doc); ok {
		return c.updated.Put(updatedKey(t, id), nil)
	}
	return nil
}

// del removes the document id whose current value is old.
func (c *coll) del(id string, old store.Document) error {
	chs, err := c.planIndexWrite(id, nil, old)
	if err != nil {
		return err
	}
	if err := applyIndexChanges(chs, id); err != nil {
		return err
	}
	if t, ok := updatedOf(old); ok {
		if err := c.updated.Delete(updatedKey(t, id)); err != nil {
			return err
		}
	}
	return c.docs.Delete([]byte(id))
}

// view and update wrap the transaction errors with the operation.
func (s *Store) view(ctx context.Context, what string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (s *Store) update(ctx context.Context, what string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}
