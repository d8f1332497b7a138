package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

// Secondary indexes. A collection bucket holds, besides docs, updated and
// history:
//
//	ix            index name → indexMeta JSON (declaration, state, progress)
//	i/<name>      one entry per document: key components + _id → _id
//
// The _updated index keeps its own bucket (updated). Every write that
// changes a document changes its index entries in the same transaction
// (coll.put, coll.del); an index being built is maintained too, so the
// builder only has to visit the documents that were there before.
var bucketIndexMeta = []byte("ix")

// Index states, as in the meta entry and the system/indexes documents.
const (
	indexBuilding = "building"
	indexReady    = "ready"
	indexFailed   = "failed"
)

// System layer collection that mirrors the state of declared indexes.
const (
	systemLayer      = "system"
	systemIndexesCol = "indexes"
)

// indexMeta is the stored state of one index.
type indexMeta struct {
	Index store.Index `json:"index"`
	State string      `json:"state"`
	// Built counts the documents the background builder indexed.
	Built int `json:"built"`
	// Total is the number of documents when the build started.
	Total int `json:"total"`
	// Cursor is the last _id the builder indexed.
	Cursor string `json:"cursor,omitempty"`
	// Error says why a build failed.
	Error string `json:"error,omitempty"`
}

// index is one secondary index inside a transaction.
type index struct {
	name    string
	meta    indexMeta
	entries *bbolt.Bucket
}

func indexBucketName(name string) []byte { return []byte("i/" + name) }

// loadIndexes reads the index metas of the collection once per
// transaction. Failed indexes are neither maintained nor used.
func (c *coll) loadIndexes() ([]*index, error) {
	if c.ixLoaded {
		return c.ixs, nil
	}
	c.ixLoaded = true
	if c.cb == nil {
		return nil, nil
	}
	mb := c.cb.Bucket(bucketIndexMeta)
	if mb == nil {
		return nil, nil
	}
	err := mb.ForEach(func(k, v []byte) error {
		var m indexMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("index %q of %s: decode meta: %w", k, c.name, err)
		}
		if m.State == indexFailed {
			return nil
		}
		b := c.cb.Bucket(indexBucketName(string(k)))
		if b == nil {
			return fmt.Errorf("index %q of %s: entries bucket missing", k, c.name)
		}
		c.ixs = append(c.ixs, &index{name: string(k), meta: m, entries: b})
		return nil
	})
	return c.ixs, err
}

// keys returns the index entries of doc (nil doc: none).
func (ix *index) keys(id string, doc store.Document) [][]byte {
	if doc == nil {
		return nil
	}
	if ix.meta.Index.IsGeo() {
		return geoKeys(doc, ix.meta.Index.Fields[0].Path, id)
	}
	k := make([]byte, 0, 32)
	anyExists := false
	for _, f := range ix.meta.Index.Fields {
		v, exists, arr := lookupPath(doc, f.Path)
		if arr {
			return [][]byte{append([]byte{keyMultikey}, id...)}
		}
		anyExists = anyExists || exists
		from := len(k)
		k, _ = appendComponent(k, v)
		if f.Order < 0 {
			invert(k, from)
		}
	}
	if ix.meta.Index.Sparse && !anyExists {
		return nil
	}
	return [][]byte{append(k, id...)}
}

// conflict returns the id of another document with key k's components in
// a unique index ("" when none).
func (ix *index) conflict(k []byte, id string) string {
	if !ix.meta.Index.Unique || len(k) == 0 || k[0] == keyMultikey {
		return ""
	}
	prefix := k[:len(k)-len(id)]
	cur := ix.entries.Cursor()
	for ck, v := cur.Seek(prefix); ck != nil && bytes.HasPrefix(ck, prefix); ck, v = cur.Next() {
		if string(v) != id {
			return string(v)
		}
	}
	return ""
}

// dupKey describes the key of doc in ix like MongoDB's E11000 message.
func (ix *index) dupKey(doc store.Document) string {
	parts := make([]string, 0, len(ix.meta.Index.Fields))
	for _, f := range ix.meta.Index.Fields {
		v, _, _ := lookupPath(doc, f.Path)
		data, _ := encodeValue(v)
		parts = append(parts, f.Path+": "+string(data))
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// indexChange is the entry change of one index for one write.
type indexChange struct {
	ix       *index
	old, new [][]byte
}

// planIndexWrite computes the index changes of replacing old by doc and
// checks unique indexes first, so that a duplicate key fails the document
// before anything is written.
func (c *coll) planIndexWrite(id string, doc, old store.Document) ([]indexChange, error) {
	ixs, err := c.loadIndexes()
	if err != nil {
		return nil, err
	}
	var out []indexChange
	for _, ix := range ixs {
		o, n := ix.keys(id, old), ix.keys(id, doc)
		if slices.EqualFunc(o, n, bytes.Equal) {
			continue
		}
		for _, k := range n {
			if other := ix.conflict(k, id); other != "" {
				return nil, fmt.Errorf("document %q in %s: %w: E11000 duplicate key error: index %q dup key %s (held by %q)",
					id, c.name, store.ErrConflict, ix.name, ix.dupKey(doc), other)
			}
		}
		out = append(out, indexChange{ix, o, n})
	}
	return out, nil
}

// applyIndexChanges writes the changes computed for document id.
func applyIndexChanges(chs []indexChange, id string) error {
	for _, ch := range chs {
		for _, k := range ch.old {
			if err := ch.ix.entries.Delete(k); err != nil {
				return fmt.Errorf("index %q: %w", ch.ix.name, err)
			}
		}
		for _, k := range ch.new {
			if err := ch.ix.entries.Put(k, []byte(id)); err != nil {
				return fmt.Errorf("index %q: %w", ch.ix.name, err)
			}
		}
	}
	return nil
}

// syncIndexes makes the index metas of collection col of layer match its
// declaration (plus the default timestamp index): removed or changed
// indexes are dropped, new ones created, ready at once on an empty
// collection and building otherwise (the Store's builder fills them).
func syncIndexes(tx *bbolt.Tx, layer string, col store.Collection) error {
	cb := tx.Bucket(collBucket(layer, col.Name))
	mb, err := cb.CreateBucketIfNotExists(bucketIndexMeta)
	if err != nil {
		return err
	}
	want := map[string]store.Index{}
	for _, ix := range col.AllIndexes() {
		if ix.IndexName() != store.FieldUpdated+"_1" { // has its own bucket
			want[ix.IndexName()] = ix
		}
	}
	var drop []string
	have := map[string]bool{}
	err = mb.ForEach(func(k, v []byte) error {
		var m indexMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("index %q: decode meta: %w", k, err)
		}
		w, ok := want[string(k)]
		if !ok || !w.Equal(m.Index) {
			drop = append(drop, string(k))
			return nil
		}
		have[string(k)] = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range drop {
		if err := mb.Delete([]byte(name)); err != nil {
			return err
		}
		if cb.Bucket(indexBucketName(name)) != nil {
			if err := cb.DeleteBucket(indexBucketName(name)); err != nil {
				return err
			}
		}
		if err := removeIndexStatus(tx, layer, col.Name, name); err != nil {
			return err
		}
	}
	empty := true
	if db := cb.Bucket(bucketDocs); db != nil {
		k, _ := db.Cursor().First()
		empty = k == nil
	}
	for _, name := range slices.Sorted(mapKeys(want)) {
		if have[name] {
			continue
		}
		m := indexMeta{Index: want[name], State: indexReady}
		if !empty {
			m.State = indexBuilding
			m.Total = cb.Bucket(bucketDocs).Stats().KeyN
		}
		if _, err := cb.CreateBucket(indexBucketName(name)); err != nil {
			return fmt.Errorf("index %q: %w", name, err)
		}
		if err := putIndexMeta(tx, mb, layer, col.Name, name, m); err != nil {
			return err
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// putIndexMeta stores an index's state and mirrors a declared index's in
// system/indexes.
func putIndexMeta(tx *bbolt.Tx, mb *bbolt.Bucket, layer, col, name string, m indexMeta) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := mb.Put([]byte(name), data); err != nil {
		return err
	}
	if store.IsDefaultIndex(name) || layer == systemLayer && col == systemIndexesCol {
		return nil
	}
	return putIndexStatus(tx, layer, col, name, m)
}

// statusID is the _id of an index's system/indexes document.
func statusID(layer, col, name string) string { return store.StoreName(layer, col) + "_" + name }

// putIndexStatus writes system/indexes/<layer>_<col>_<name>, creating the
// system layer's indexes collection when missing.
func putIndexStatus(tx *bbolt.Tx, layer, col, name string, m indexMeta) error {
	l, err := getLayer(tx, systemLayer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if l == nil || l.Collection(systemIndexesCol) == nil {
		var res store.ApplyResult
		nl, _ := store.EnsureCollection(l, systemLayer, systemIndexesCol, &res)
		if l == nil {
			nl.Label, nl.Description = "System", "GridEdge's own records"
		}
		if err := putLayer(tx, nl); err != nil {
			return fmt.Errorf("create %s_%s: %w", systemLayer, systemIndexesCol, err)
		}
	}
	c, err := collection(tx, systemLayer, systemIndexesCol)
	if err != nil {
		return err
	}
	id := statusID(layer, col, name)
	old, err := c.get(id)
	if err != nil {
		return err
	}
	fields, _ := json.Marshal(m.Index.Fields)
	var fv any
	_ = json.Unmarshal(fields, &fv)
	doc := store.Document{
		store.FieldID: id, store.FieldUpdated: store.Timestamp(time.Now()), store.FieldExpired: false,
		"layer": layer, "collection": col, "index": name, "fields": fv,
		"unique": m.Index.Unique, "sparse": m.Index.Sparse,
		"state": m.State, "built": float64(m.Built), "total": float64(m.Total),
	}
	if m.Error != "" {
		doc["error"] = m.Error
	}
	return c.put(id, doc, old)
}

// removeIndexStatus deletes an index's system/indexes document, if any.
func removeIndexStatus(tx *bbolt.Tx, layer, col, name string) error {
	if store.IsDefaultIndex(name) {
		return nil
	}
	c, err := collection(tx, systemLayer, systemIndexesCol)
	if err != nil {
		return nil // no system/indexes: nothing to remove
	}
	id := statusID(layer, col, name)
	old, err := c.get(id)
	if err != nil || old == nil {
		return err
	}
	return c.del(id, old)
}
