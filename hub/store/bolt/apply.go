package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// HighWaterMark returns the last sequence number applied for edge.
func (s *Store) HighWaterMark(ctx context.Context, edge string) (uint64, error) {
	var hwm uint64
	err := s.view(ctx, "high-water mark", func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketEdges).Get([]byte(edge)); len(v) == 8 {
			hwm = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return hwm, err
}

// ApplyBatch applies an edge batch idempotently in one transaction: the
// high-water mark is stored with the writes.
func (s *Store) ApplyBatch(ctx context.Context, b *model.Batch, opts store.ApplyOptions) (store.ApplyResult, error) {
	var res store.ApplyResult
	if err := b.Validate(); err != nil {
		return res, fmt.Errorf("store: apply batch: %w: %v", store.ErrInvalid, err)
	}
	now := opts.Now
	if now.IsZero() {
		now = s.now()
	}
	now = store.Timestamp(now)
	err := s.update(ctx, "apply batch "+b.MsgID(), func(tx *bbolt.Tx) error {
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
		type collKey struct{ layer, col string }
		type docKey struct {
			collKey
			id string
		}
		changed := map[docKey]int{} // index in res.Changes
		// a batch touches few documents many times: look each collection up
		// once, decode each document once, and write it once at the end
		colls := map[collKey]*coll{}
		docs := map[docKey]*pendingDoc{}
		var order []*pendingDoc
		for i := range b.Updates {
			seq := b.SeqFirst + uint64(i)
			if seq <= hwm {
				res.Skipped++
				continue
			}
			u := &b.Updates[i]
			ck := collKey{u.Layer, u.Collection}
			c := colls[ck]
			if c == nil {
				var err error
				c, err = collection(tx, u.Layer, u.Collection)
				if errors.Is(err, store.ErrNotFound) && opts.CreateMissing {
					if err = ensureCollection(tx, u.Layer, u.Collection, &res); err == nil {
						c, err = collection(tx, u.Layer, u.Collection)
					}
				}
				if err != nil {
					return fmt.Errorf("update seq %d: %w", seq, err)
				}
				colls[ck] = c
			}
			key := docKey{ck, u.ID}
			pd := docs[key]
			if pd == nil {
				var err error
				if pd, err = c.load(u.ID); err != nil {
					return fmt.Errorf("update seq %d: %w", seq, err)
				}
				docs[key] = pd
				order = append(order, pd)
			}
			if err := pd.apply(u, seq); err != nil {
				return fmt.Errorf("update seq %d: %w", seq, err)
			}
			res.Applied++
			if j, ok := changed[key]; ok {
				// most updates of a document set the fields it already lists
				if !hasAll(res.Changes[j].Fields, u.Set) {
					res.Changes[j].Fields = store.MergeFields(res.Changes[j].Fields, slices.Collect(maps.Keys(u.Set)))
				}
				continue
			}
			fields := slices.Sorted(maps.Keys(u.Set))
			changed[key] = len(res.Changes)
			res.Changes = append(res.Changes, store.Change{Op: pd.op, Layer: u.Layer, Collection: u.Collection, ID: u.ID, Fields: fields})
		}
		for _, pd := range order {
			pd.doc[store.FieldUpdated] = now
			if err := pd.c.put(pd.id, pd.doc, pd.old); err != nil {
				return err
			}
		}
		return edges.Put([]byte(b.Edge), binary.BigEndian.AppendUint64(nil, b.SeqLast))
	})
	if err != nil {
		return store.ApplyResult{}, err
	}
	return res, nil
}

// ensureCollection makes layer/col exist (store.EnsureCollection).
func ensureCollection(tx *bbolt.Tx, layer, col string, res *store.ApplyResult) error {
	l, err := getLayer(tx, layer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	l, _ = store.EnsureCollection(l, layer, col, res)
	// stored even when unchanged: putLayer also creates a missing bucket
	return putLayer(tx, l)
}

// pendingDoc is a document being changed by a batch.
type pendingDoc struct {
	c        *coll
	id       string
	doc, old store.Document
	op       string // insert or update, as seen by the first update of the batch
}

// load reads a document for changing (a new one when missing).
func (c *coll) load(id string) (*pendingDoc, error) {
	old, err := c.get(id)
	if err != nil {
		return nil, err
	}
	pd := &pendingDoc{c: c, id: id, old: old, op: store.OpUpdate}
	if old != nil {
		n, _ := store.Normalize(old)
		pd.doc = n.(map[string]any)
	} else {
		pd.op = store.OpInsert
		pd.doc = store.Document{store.FieldID: id, store.FieldExpired: false}
	}
	return pd, nil
}

// apply writes one edge update into the pending document and the history.
func (pd *pendingDoc) apply(u *model.Update, seq uint64) error {
	var buf [8]string // no allocation for the usual few fields
	paths := buf[:0]
	for p := range u.Set {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		if strings.HasPrefix(path, "_") {
			return fmt.Errorf("%w: field %q is maintained by the hub", store.ErrInvalid, path)
		}
		val, err := store.NormalizeUpdateValue(path, u.Set[path])
		if err != nil {
			return err
		}
		if err := store.SetPath(pd.doc, path, val); err != nil {
			return err
		}
	}
	return nil
}

// hasAll reports whether the sorted fields list every key of set.
func hasAll(fields []string, set map[string]any) bool {
	for k := range set {
		if _, ok := slices.BinarySearch(fields, k); !ok {
			return false
		}
	}
	return true
}
