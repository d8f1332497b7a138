// Package bolt is the embedded store backend: one bbolt file holding layers,
// documents, an _updated index, per-document field history and the per-edge
// high-water marks of the ingest applier.
//
// File layout (buckets):
//
//	_layers                       layer id → layer JSON
//	_edges                        edge id → high-water mark (8 bytes, big-endian)
//	c/<layer>_<collection>        collection bucket with sub-buckets:
//	    docs                      _id → document JSON
//	    history                   _id 0x00 field 0x00 ts(8 bytes) seq(8) → value JSON
//
// Dates are stored as {"$date": RFC 3339} so that they come back as
// time.Time, as they do from MongoDB. Queries other than by _id scan the
// collection: cost O(documents), documented in docs/store.md.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

var (
	bucketLayers  = []byte("_layers")
	bucketEdges   = []byte("_edges")
	bucketDocs    = []byte("docs")
	bucketHistory = []byte("history")
)

func collBucket(layer, col string) []byte { return []byte("c/" + store.StoreName(layer, col)) }

// Store is the bbolt backend.
type Store struct {
	db *bbolt.DB
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store file at path.
func Open(path string) (*Store, error) {
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
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Layers returns every layer ordered by _id.
func (s *Store) Layers(ctx context.Context) ([]store.Layer, error) {
	var out []store.Layer
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
	return l, err
}

func getLayer(tx *bbolt.Tx, id string) (*store.Layer, error) {
	v := tx.Bucket(bucketLayers).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("layer %q: %w", id, store.ErrNotFound)
	}
	var l store.Layer
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("decode layer %q: %w", id, err)
	}
	return &l, nil
}

func putLayer(tx *bbolt.Tx, l *store.Layer) error {
	if err := store.CheckName("layer", l.ID); err != nil {
		return err
	}
	for _, c := range l.Collections {
		if err := store.CheckName("collection", c.Name); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(collBucket(l.ID, c.Name)); err != nil {
			return err
		}
	}
	if l.Collections == nil {
		l.Collections = []store.Collection{}
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
	return nil
}

// collection returns the docs and history buckets of a collection, or ErrNotFound.
func collection(tx *bbolt.Tx, layer, col string) (docs, hist *bbolt.Bucket, err error) {
	l, err := getLayer(tx, layer)
	if err != nil {
		return nil, nil, err
	}
	if l.Collection(col) == nil {
		return nil, nil, fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	cb := tx.Bucket(collBucket(layer, col))
	if cb == nil {
		return nil, nil, fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	docs, hist = cb.Bucket(bucketDocs), cb.Bucket(bucketHistory)
	if docs == nil && tx.Writable() {
		if docs, err = cb.CreateBucket(bucketDocs); err != nil {
			return nil, nil, err
		}
		if hist, err = cb.CreateBucket(bucketHistory); err != nil {
			return nil, nil, err
		}
	}
	return docs, hist, nil
}

// Get returns one document.
func (s *Store) Get(ctx context.Context, layer, col, id string) (store.Document, error) {
	var doc store.Document
	err := s.db.View(func(tx *bbolt.Tx) error {
		docs, _, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		var v []byte
		if docs != nil {
			v = docs.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("document %q in %s: %w", id, store.StoreName(layer, col), store.ErrNotFound)
		}
		doc, err = decodeDoc(v)
		return err
	})
	return doc, err
}

// Find scans a collection in _id order.
func (s *Store) Find(ctx context.Context, layer, col string, opts store.FindOptions) ([]store.Document, error) {
	out := []store.Document{}
	skip := opts.Skip
	err := s.db.View(func(tx *bbolt.Tx) error {
		docs, _, err := collection(tx, layer, col)
		if err != nil || docs == nil {
			return err
		}
		c := docs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := decodeDoc(v)
			if err != nil {
				return err
			}
			if opts.Match != nil && !opts.Match(d) {
				continue
			}
			if opts.Less == nil {
				// _id order is the scan order: skip and limit apply as we go
				if skip > 0 {
					skip--
					continue
				}
				out = append(out, d)
				if opts.Limit > 0 && len(out) >= opts.Limit {
					return nil
				}
				continue
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if opts.Less != nil {
		sort.SliceStable(out, func(i, j int) bool { return opts.Less(out[i], out[j]) })
		if skip >= len(out) {
			return []store.Document{}, nil
		}
		out = out[skip:]
		if opts.Limit > 0 && len(out) > opts.Limit {
			out = out[:opts.Limit]
		}
	}
	return out, nil
}

func histKey(id, field string, ts time.Time, seq uint64) []byte {
	k := make([]byte, 0, len(id)+len(field)+18)
	k = append(k, id...)
	k = append(k, 0)
	k = append(k, field...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(ts.UnixNano()))
	return binary.BigEndian.AppendUint64(k, seq)
}

// History returns history points ordered by (document, field, time).
func (s *Store) History(ctx context.Context, layer, col string, q store.HistoryQuery) ([]store.Point, error) {
	out := []store.Point{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		_, hist, err := collection(tx, layer, col)
		if err != nil || hist == nil {
			return err
		}
		var prefix []byte
		if q.ID != "" {
			prefix = append([]byte(q.ID), 0)
			if q.Field != "" {
				prefix = append(append(prefix, q.Field...), 0)
			}
		}
		c := hist.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			parts := bytes.SplitN(k, []byte{0}, 3)
			if len(parts) != 3 || len(parts[2]) != 16 {
				return fmt.Errorf("corrupt history key %x", k)
			}
			field := string(parts[1])
			if q.Field != "" && field != q.Field {
				continue
			}
			ts := time.Unix(0, int64(binary.BigEndian.Uint64(parts[2][:8]))).UTC()
			if (!q.From.IsZero() && ts.Before(q.From)) || (!q.To.IsZero() && ts.After(q.To)) {
				continue
			}
			val, err := decodeValue(v)
			if err != nil {
				return err
			}
			out = append(out, store.Point{ID: string(parts[0]), Field: field, TS: ts, Value: val})
			if q.Limit > 0 && len(out) >= q.Limit {
				return nil
			}
		}
		return nil
	})
	return out, err
}

// HighWaterMark returns the last sequence number applied for edge.
func (s *Store) HighWaterMark(ctx context.Context, edge string) (uint64, error) {
	var hwm uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketEdges).Get([]byte(edge)); len(v) == 8 {
			hwm = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return hwm, err
}

// ApplyBatch applies an edge batch idempotently in one transaction.
func (s *Store) ApplyBatch(ctx context.Context, b *model.Batch, opts store.ApplyOptions) (store.ApplyResult, error) {
	var res store.ApplyResult
	if err := b.Validate(); err != nil {
		return res, fmt.Errorf("%w: %v", store.ErrInvalid, err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		res = store.ApplyResult{}
		edges := tx.Bucket(bucketEdges)
		var hwm uint64
		if v := edges.Get([]byte(b.Edge)); len(v) == 8 {
			hwm = binary.BigEndian.Uint64(v)
		}
		if b.SeqLast <= hwm {
			res.Skipped = len(b.Updates)
			return nil
		}
		if b.SeqFirst > hwm+1 {
			res.Gap = b.SeqFirst - hwm - 1
		}
		changed := map[string]int{} // layer/col/id → index in res.Changes
		for i := range b.Updates {
			seq := b.SeqFirst + uint64(i)
			if seq <= hwm {
				res.Skipped++
				continue
			}
			u := &b.Updates[i]
			docs, hist, err := collection(tx, u.Layer, u.Collection)
			if errors.Is(err, store.ErrNotFound) && opts.CreateMissing {
				if err = ensureCollection(tx, u.Layer, u.Collection, &res); err == nil {
					docs, hist, err = collection(tx, u.Layer, u.Collection)
				}
			}
			if err != nil {
				return fmt.Errorf("update seq %d: %w", seq, err)
			}
			op, err := applyUpdate(docs, hist, u, seq, now)
			if err != nil {
				return fmt.Errorf("update seq %d: %w", seq, err)
			}
			res.Applied++
			key := u.Layer + "\x00" + u.Collection + "\x00" + u.ID
			fields := make([]string, 0, len(u.Set))
			for f := range u.Set {
				fields = append(fields, f)
			}
			if j, ok := changed[key]; ok {
				res.Changes[j].Fields = mergeFields(res.Changes[j].Fields, fields)
				continue
			}
			sort.Strings(fields)
			changed[key] = len(res.Changes)
			res.Changes = append(res.Changes, store.Change{Op: op, Layer: u.Layer, Collection: u.Collection, ID: u.ID, Fields: fields})
		}
		return edges.Put([]byte(b.Edge), binary.BigEndian.AppendUint64(nil, b.SeqLast))
	})
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("store: apply batch %s: %w", b.MsgID(), err)
	}
	return res, nil
}

func mergeFields(a, b []string) []string {
	set := map[string]bool{}
	for _, f := range a {
		set[f] = true
	}
	for _, f := range b {
		set[f] = true
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func ensureCollection(tx *bbolt.Tx, layer, col string, res *store.ApplyResult) error {
	l, err := getLayer(tx, layer)
	if errors.Is(err, store.ErrNotFound) {
		l = &store.Layer{ID: layer, Label: layer, Description: "created by the ingest applier"}
		res.Created = append(res.Created, layer)
	} else if err != nil {
		return err
	}
	if l.Collection(col) == nil {
		l.Collections = append(l.Collections, store.Collection{Name: col})
		res.Created = append(res.Created, store.StoreName(layer, col))
	}
	return putLayer(tx, l)
}

// applyUpdate writes one update to a document and its history.
func applyUpdate(docs, hist *bbolt.Bucket, u *model.Update, seq uint64, now time.Time) (op string, err error) {
	op = "update"
	doc := store.Document{}
	if v := docs.Get([]byte(u.ID)); v != nil {
		if doc, err = decodeDoc(v); err != nil {
			return "", err
		}
	} else {
		op = "insert"
		doc["_id"] = u.ID
		doc["_expired"] = false
	}
	for _, path := range sortedKeys(u.Set) {
		val := normalizeValue(path, u.Set[path])
		if strings.HasPrefix(path, "_") {
			return "", fmt.Errorf("%w: field %q is maintained by the hub", store.ErrInvalid, path)
		}
		if err := store.SetPath(doc, path, val); err != nil {
			return "", err
		}
		ts := u.TS
		if m, ok := val.(map[string]any); ok {
			if t, ok := m["timestamp"].(time.Time); ok {
				ts = t
			}
		}
		enc, err := encodeValue(val)
		if err != nil {
			return "", err
		}
		if err := hist.Put(histKey(u.ID, path, ts, seq), enc); err != nil {
			return "", err
		}
	}
	doc["_updated"] = now
	enc, err := encodeValue(doc)
	if err != nil {
		return "", err
	}
	return op, docs.Put([]byte(u.ID), enc)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// normalizeValue turns the timestamps of measurements (and
// measurementsTimestamp) into time.Time, so that both backends store dates.
func normalizeValue(path string, v any) any {
	switch t := v.(type) {
	case string:
		if path == model.MeasurementsTimestampField {
			if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return ts.UTC()
			}
		}
	case model.Measurement:
		return map[string]any{"value": t.Value, "quality": float64(t.Quality), "timestamp": t.Timestamp.UTC()}
	case map[string]any:
		if strings.HasPrefix(path, model.MeasurementsPrefix) {
			if s, ok := t["timestamp"].(string); ok {
				if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
					t["timestamp"] = ts.UTC()
				}
			}
		}
	}
	return v
}
