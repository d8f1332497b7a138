package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// errStop ends an iteration early without error.
var errStop = errors.New("stop")

// updatedRange returns the millisecond bounds of a date range on _updated
// that sel implies, when the _updated index can serve it.
func updatedRange(sel *query.Selector) (lo, hi int64, ok bool) {
	l, h, _, _, ok := sel.Range(store.FieldUpdated)
	if !ok {
		return 0, 0, false
	}
	lo, hi = -1<<63, 1<<63-1
	if l != nil {
		t, isDate := l.(time.Time)
		if !isDate {
			return 0, 0, false
		}
		lo = t.UnixMilli()
		if t.Before(time.UnixMilli(lo)) { // sub-millisecond bound: round down
			lo--
		}
	}
	if h != nil {
		t, isDate := h.(time.Time)
		if !isDate {
			return 0, 0, false
		}
		hi = t.UnixMilli()
	}
	return lo, hi, true
}

// each calls fn for every document matching sel, through the access path
// the planner picks (see plan.go). fn may return errStop.
func (c *coll) each(ctx context.Context, sel *query.Selector, fn func(id string, d store.Document) error) error {
	p, err := c.planFor(sel, nil)
	if err != nil {
		return err
	}
	var st explainStats
	return c.run(ctx, p, sel, &st, nil, nil, func(id string, d store.Document, _ []byte) error { return fn(id, d) })
}

func binary64(v uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// find runs a query inside a transaction and says how, in p and st.
func (c *coll) find(ctx context.Context, opts store.FindOptions, st *explainStats) ([]store.Document, *plan, error) {
	p, err := c.planFor(opts.Selector, opts.Sort)
	if err != nil {
		return nil, nil, err
	}
	// match on the fields the selector and sort read; decode whole
	// documents only for the page returned
	want := fieldsFor(opts.Selector, opts.Sort)
	full := func(d store.Document, raw []byte) (store.Document, error) {
		if want == nil {
			return d, nil
		}
		return decodeDoc(raw)
	}
	if p.ordered {
		// documents come in the requested order: skip and limit as we go
		out := []store.Document{}
		skip := opts.Skip
		err := c.run(ctx, p, opts.Selector, st, want, map[string]any{}, func(id string, d store.Document, raw []byte) error {
			if skip > 0 {
				skip--
				return nil
			}
			d, err := full(d, raw)
			if err != nil {
				return docErr(id, c.name, err)
			}
			out = append(out, store.Project(d, opts.Projection))
			if opts.Limit > 0 && len(out) >= opts.Limit {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			return nil, nil, err
		}
		st.returned = len(out)
		return out, p, nil
	}
	if out, ok, err := c.findByID(ctx, p, opts, want, st); ok {
		return out, p, err
	}
	var all []store.Document
	raws := map[string][]byte{}
	err = c.run(ctx, p, opts.Selector, st, want, nil, func(id string, d store.Document, raw []byte) error {
		all = append(all, d)
		raws[id] = raw
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	store.SortDocs(all, opts.Sort)
	page := store.Page(all, store.FindOptions{Skip: opts.Skip, Limit: opts.Limit}, false)
	out := make([]store.Document, len(page))
	for i, d := range page {
		id, _ := d[store.FieldID].(string)
		fd, err := full(d, raws[id])
		if err != nil {
			return nil, nil, docErr(id, c.name, err)
		}
		out[i] = store.Project(fd, opts.Projection)
	}
	st.returned = len(out)
	return out, p, nil
}

// Get returns one document.
func (s *Store) Get(ctx context.Context, layer, col, id string) (store.Document, error) {
	var doc store.Document
	err := s.view(ctx, "get", func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		if doc, err = c.get(id); err != nil {
			return err
		}
		if doc == nil {
			return fmt.Errorf("document %q in %s: %w", id, c.name, store.ErrNotFound)
		}
		return nil
	})
	return doc, err
}

// Find returns the matching documents; see the package documentation for
// the cost.
func (s *Store) Find(ctx context.Context, layer, col string, opts store.FindOptions) ([]store.Document, error) {
	if err := store.CheckFind(opts); err != nil {
		return nil, fmt.Errorf("store: find in %s: %w", store.StoreName(layer, col), err)
	}
	var out []store.Document
	err := s.view(ctx, "find in "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		var st explainStats
		out, _, err = c.find(ctx, opts, &st)
		return err
	})
	return out, err
}

// Count returns how many documents match sel.
func (s *Store) Count(ctx context.Context, layer, col string, sel *query.Selector) (int, error) {
	if err := store.CheckSelector(sel); err != nil {
		return 0, fmt.Errorf("store: count in %s: %w", store.StoreName(layer, col), err)
	}
	n := 0
	err := s.view(ctx, "count in "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		if sel == nil && c.docs != nil {
			n = c.docs.Stats().KeyN
			return nil
		}
		return c.each(ctx, sel, func(string, store.Document) error { n++; return nil })
	})
	return n, err
}

// Range returns the documents whose date at field lies in [from, to]; a
// scan unless field is _updated.
func (s *Store) Range(ctx context.Context, layer, col, field string, from, to time.Time, opts store.FindOptions) ([]store.Document, error) {
	if err := store.CheckRange(field, opts); err != nil {
		return nil, fmt.Errorf("store: range in %s: %w", store.StoreName(layer, col), err)
	}
	sel, err := store.RangeSelector(field, from, to, opts.Selector)
	if err != nil {
		return nil, fmt.Errorf("store: range in %s: %w", store.StoreName(layer, col), err)
	}
	opts.Selector = sel
	if opts.Sort == nil {
		opts.Sort = query.SortSpec{{Field: field}}
	}
	return s.Find(ctx, layer, col, opts)
}

// Near returns the documents near (lon, lat): through a ready "2dsphere"
// index on geometry when the collection has one, else a scan of the
// documents with a geometry.
func (s *Store) Near(ctx context.Context, layer, col string, lon, lat, maxMeters float64, opts store.FindOptions) ([]store.Document, error) {
	if err := store.CheckFind(opts); err != nil {
		return nil, fmt.Errorf("store: near in %s: %w", store.StoreName(layer, col), err)
	}
	sel, err := nearSelector(opts.Selector)
	if err != nil {
		return nil, fmt.Errorf("store: near in %s: %w", store.StoreName(layer, col), err)
	}
	var all, out []store.Document
	err = s.view(ctx, "near in "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		if gix, err := c.geoIndex(); err != nil || gix != nil {
			if err != nil {
				return err
			}
			out, err = c.nearByIndex(ctx, gix, sel, lon, lat, maxMeters, opts)
			return err
		}
		return c.each(ctx, sel, func(_ string, d store.Document) error {
			all = append(all, d)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if out != nil {
		return out, nil
	}
	return store.FinishNear(all, lon, lat, maxMeters, opts), nil
}

func nearSelector(sel *query.Selector) (*query.Selector, error) {
	cond := map[string]any{"geometry": map[string]any{"$exists": true}}
	if sel != nil {
		cond = map[string]any{"$and": []any{cond, sel.Raw()}}
	}
	out, err := query.CompileSelector(cond)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	return out, nil
}

// Insert inserts documents, each on its own: a failed document does not
// stop the others. All are written in one transaction.
func (s *Store) Insert(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res := store.NewWriteResult()
	now := s.clock()
	err := s.update(ctx, "insert into "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		res = store.NewWriteResult()
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		for _, in := range docs {
			doc, id, err := store.PrepareInsert(in, now)
			if err == nil {
				var old store.Document
				if old, err = c.get(id); err == nil && old != nil {
					err = fmt.Errorf("document %q in %s: %w", id, c.name, store.ErrConflict)
				}
			}
			if err == nil {
				err = c.put(id, doc, nil)
			}
			if err == nil {
				res.Succeed(store.Change{Op: store.OpInsert, Layer: layer, Collection: col, ID: id, Fields: store.TopFields(doc)})
				continue
			}
			if !store.IsDocumentError(err) {
				return err
			}
			res.Fail(id, err)
		}
		return nil
	})
	if err != nil {
		return store.WriteResult{}, err
	}
	return res, nil
}

// updateDoc applies update to the document id inside a transaction.
func (c *coll) updateDoc(id string, update map[string]any, now time.Time) ([]string, error) {
	return c.updateDocIf(id, nil, update, now)
}

// updateDocIf is updateDoc when the document matches sel (nil: any).
func (c *coll) updateDocIf(id string, sel *query.Selector, update map[string]any, now time.Time) ([]string, error) {
	if err := store.CheckUpdate(update); err != nil {
		return nil, fmt.Errorf("document %q in %s: %w", id, c.name, err)
	}
	norm, err := store.Normalize(update)
	if err != nil {
		return nil, fmt.Errorf("document %q in %s: %w", id, c.name, err)
	}
	old, err := c.get(id)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, fmt.Errorf("document %q in %s: %w", id, c.name, store.ErrNotFound)
	}
	doc, err := store.Normalize(old)
	if err != nil {
		return nil, err
	}
	d := doc.(map[string]any)
	if sel != nil && !sel.Match(d) {
		return nil, fmt.Errorf("document %q in %s: %w", id, c.name, store.ErrUnmatched)
	}
	changed, err := query.ApplyUpdateAt(d, norm.(map[string]any), now)
	if err != nil {
		return nil, fmt.Errorf("document %q in %s: %w: %w", id, c.name, store.ErrInvalid, err)
	}
	d[store.FieldUpdated] = now
	if err := c.put(id, d, old); err != nil {
		return nil, err
	}
	return changed, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UpdateByID applies a MongoDB update to one document.
func (s *Store) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	return s.updateIf(ctx, layer, col, id, nil, update)
}

// UpdateIf applies a MongoDB update to one document if it matches sel, in
// the same transaction as the check.
func (s *Store) UpdateIf(ctx context.Context, layer, col, id string, sel *query.Selector, update map[string]any) ([]string, error) {
	if err := store.CheckSelector(sel); err != nil {
		return nil, fmt.Errorf("update %q in %s: %w", id, store.StoreName(layer, col), err)
	}
	return s.updateIf(ctx, layer, col, id, sel, update)
}

// updateIf updates document id if it matches sel (nil: any).
func (s *Store) updateIf(ctx context.Context, layer, col, id string, sel *query.Selector, update map[string]any) ([]string, error) {
	var changed []string
	now := s.clock()
	err := s.update(ctx, "update", func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		changed, err = c.updateDocIf(id, sel, update, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nonNil(changed), nil
}

// UpdateMany sets the given fields of each document by its _id.
func (s *Store) UpdateMany(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res := store.NewWriteResult()
	now := s.clock()
	err := s.update(ctx, "update in "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		res = store.NewWriteResult()
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		for _, in := range docs {
			id, err := store.DocID(in)
			if err == nil && id == "" {
				err = fmt.Errorf("%w: document without _id", store.ErrInvalid)
			}
			var changed []string
			if err == nil {
				var upd map[string]any
				if upd, err = store.SetUpdate(in); err == nil {
					changed, err = c.updateDoc(id, upd, now)
				}
			}
			if err == nil {
				res.Succeed(store.Change{Op: store.OpUpdate, Layer: layer, Collection: col, ID: id, Fields: nonNil(changed)})
				continue
			}
			if !store.IsDocumentError(err) {
				return err
			}
			res.Fail(id, err)
		}
		return nil
	})
	if err != nil {
		return store.WriteResult{}, err
	}
	return res, nil
}

// DeleteByID removes one document.
func (s *Store) DeleteByID(ctx context.Context, layer, col, id string) error {
	return s.update(ctx, "delete", func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		old, err := c.get(id)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("document %q in %s: %w", id, c.name, store.ErrNotFound)
		}
		return c.del(id, old)
	})
}

// DeleteMany removes the matching documents (history is kept).
func (s *Store) DeleteMany(ctx context.Context, layer, col string, sel *query.Selector) (store.WriteResult, error) {
	if err := store.CheckSelector(sel); err != nil {
		return store.WriteResult{}, fmt.Errorf("store: delete in %s: %w", store.StoreName(layer, col), err)
	}
	res := store.NewWriteResult()
	err := s.update(ctx, "delete in "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		res = store.NewWriteResult()
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		type victim struct {
			id  string
			doc store.Document
		}
		var vs []victim
		err = c.each(ctx, sel, func(id string, d store.Document) error {
			vs = append(vs, victim{id, d})
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(vs, func(a, b victim) int {
			return bytes.Compare([]byte(a.id), []byte(b.id))
		})
		for _, v := range vs {
			if err := c.del(v.id, v.doc); err != nil {
				return err
			}
			res.Succeed(store.Change{Op: store.OpDelete, Layer: layer, Collection: col, ID: v.id})
		}
		return nil
	})
	if err != nil {
		return store.WriteResult{}, err
	}
	return res, nil
}

// Bulk upserts documents by _id in one transaction, after emptying the
// collection when init is set.
func (s *Store) Bulk(ctx context.Context, layer, col string, docs []store.Document, init bool) (store.WriteResult, error) {
	res := store.NewWriteResult()
	now := s.clock()
	err := s.update(ctx, "bulk into "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		res = store.NewWriteResult()
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		// with init, the documents there before: id → top-level fields
		var before map[string][]string
		if init {
			before = map[string][]string{}
			if err := c.each(ctx, nil, func(id string, d store.Document) error {
				before[id] = store.TopFields(d)
				return nil
			}); err != nil {
				return err
			}
			if err := clearDocs(tx, layer, col); err != nil {
				return err
			}
			if c, err = collection(tx, layer, col); err != nil {
				return err
			}
		}
		written := map[string]bool{}
		for _, in := range docs {
			id, err := store.DocID(in)
			if err == nil && id != "" {
				var old store.Document
				if old, err = c.get(id); err == nil && old != nil {
					ch := store.Change{Op: store.OpUpdate, Layer: layer, Collection: col, ID: id, Fields: []string{}}
					if len(in) > 1 { // only an _id: nothing to set
						var upd map[string]any
						if upd, err = store.SetUpdate(in); err == nil {
							ch.Fields, err = c.updateDoc(id, upd, now)
						}
					}
					if err == nil {
						if prev, ok := before[id]; ok && !written[id] {
							ch.Fields = store.MergeFields(prev, store.TopFields(in))
						}
						written[id] = true
						res.Succeed(ch)
						continue
					}
				}
			}
			if err == nil {
				var doc store.Document
				doc, id, err = store.PrepareInsert(in, now)
				if err == nil {
					err = c.put(id, doc, nil)
				}
				if err == nil {
					ch := store.Change{Op: store.OpInsert, Layer: layer, Collection: col, ID: id, Fields: store.TopFields(doc)}
					if prev, ok := before[id]; ok {
						ch.Op, ch.Fields = store.OpUpdate, store.MergeFields(prev, ch.Fields)
					}
					written[id] = true
					res.Succeed(ch)
					continue
				}
			}
			if !store.IsDocumentError(err) {
				return err
			}
			res.Fail(id, err)
		}
		var gone []string
		for id := range before {
			if !written[id] {
				gone = append(gone, id)
			}
		}
		slices.Sort(gone)
		for _, id := range gone {
			res.Changes = append(res.Changes, store.Change{Op: store.OpDelete, Layer: layer, Collection: col, ID: id})
		}
		return nil
	})
	if err != nil {
		return store.WriteResult{}, err
	}
	return res, nil
}

// clearDocs empties the documents, the _updated index and the secondary
// indexes of a collection (history is kept).
func clearDocs(tx *bbolt.Tx, layer, col string) error {
	cb := tx.Bucket(collBucket(layer, col))
	names := [][]byte{bucketDocs, bucketUpdated}
	if mb := cb.Bucket(bucketIndexMeta); mb != nil {
		if err := mb.ForEach(func(k, _ []byte) error {
			names = append(names, indexBucketName(string(k)))
			return nil
		}); err != nil {
			return err
		}
	}
	for _, name := range names {
		if cb.Bucket(name) != nil {
			if err := cb.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	for _, name := range names[2:] {
		if _, err := cb.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}

var _ store.Explainer = (*Store)(nil)

// Explain runs a find and reports the plan the planner chose and the keys
// and documents it read.
func (s *Store) Explain(ctx context.Context, layer, col string, opts store.FindOptions) (store.Plan, error) {
	if err := store.CheckFind(opts); err != nil {
		return store.Plan{}, fmt.Errorf("store: explain find in %s: %w", store.StoreName(layer, col), err)
	}
	out := store.Plan{Backend: "bolt"}
	err := s.view(ctx, "explain find in "+store.StoreName(layer, col), func(tx *bbolt.Tx) error {
		c, err := collection(tx, layer, col)
		if err != nil {
			return err
		}
		var st explainStats
		_, p, err := c.find(ctx, opts, &st)
		if err != nil {
			return err
		}
		out.Plan, out.Index = p.kind, p.index
		out.KeysExamined, out.DocsExamined, out.Returned = st.keys, st.docs, st.returned
		out.SortedByIndex = p.ordered && opts.Sort != nil
		return nil
	})
	return out, err
}
