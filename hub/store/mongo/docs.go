package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// filter returns the MongoDB filter of a selector.
func filter(sel *query.Selector) map[string]any { return sel.Raw() }

// sortDoc returns the sort of a query: spec then _id.
func sortDoc(spec query.SortSpec) bson.D {
	d := make(bson.D, 0, len(spec)+1)
	hasID := false
	for _, k := range spec {
		dir := 1
		if k.Desc {
			dir = -1
		}
		d = append(d, bson.E{Key: k.Field, Value: dir})
		hasID = hasID || k.Field == store.FieldID
	}
	if !hasID {
		d = append(d, bson.E{Key: store.FieldID, Value: 1})
	}
	return d
}

// projection returns the server projection: the caller's, minus the
// internal _seq field.
func projection(p *query.Projection) bson.M {
	fields := p.Fields()
	out := bson.M{}
	include := false
	for k, on := range fields {
		if on {
			out[k] = 1
			if k != store.FieldID {
				include = true
			}
		} else {
			out[k] = 0
		}
	}
	if len(fields) == 1 && fields[store.FieldID] {
		include = true
	}
	if !include {
		out[seqField] = 0
	}
	return out
}

func (s *Store) find(ctx context.Context, c *mongo.Collection, f any, opts store.FindOptions) ([]store.Document, error) {
	fo := options.Find().SetSort(sortDoc(opts.Sort)).SetProjection(projection(opts.Projection)).SetMaxTime(s.maxTime(ctx))
	if opts.Skip > 0 {
		fo.SetSkip(int64(opts.Skip))
	}
	if opts.Limit > 0 {
		fo.SetLimit(int64(opts.Limit))
	}
	cur, err := c.Find(ctx, f, fo)
	if err != nil {
		return nil, err
	}
	var raw []bson.M
	if err := cur.All(ctx, &raw); err != nil {
		return nil, err
	}
	out := make([]store.Document, len(raw))
	for i, r := range raw {
		out[i] = toDoc(r)
	}
	return out, nil
}

// Get returns one document.
func (s *Store) Get(ctx context.Context, layer, col, id string) (store.Document, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	var r bson.M
	err = c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.M{seqField: 0}).SetMaxTime(s.maxTime(ctx))).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("store: get: document %q in %s: %w", id, c.Name(), store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %q in %s: %w", id, c.Name(), err)
	}
	return toDoc(r), nil
}

// Find returns the matching documents.
func (s *Store) Find(ctx context.Context, layer, col string, opts store.FindOptions) ([]store.Document, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return nil, fmt.Errorf("store: find: %w", err)
	}
	if err := store.CheckFind(opts); err != nil {
		return nil, fmt.Errorf("store: find in %s: %w", c.Name(), err)
	}
	out, err := s.find(ctx, c, filter(opts.Selector), opts)
	if err != nil {
		return nil, fmt.Errorf("store: find in %s: %w", c.Name(), err)
	}
	return out, nil
}

// Count returns how many documents match sel.
func (s *Store) Count(ctx context.Context, layer, col string, sel *query.Selector) (int, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	if err := store.CheckSelector(sel); err != nil {
		return 0, fmt.Errorf("store: count in %s: %w", c.Name(), err)
	}
	n, err := c.CountDocuments(ctx, filter(sel), options.Count().SetMaxTime(s.maxTime(ctx)))
	if err != nil {
		return 0, fmt.Errorf("store: count in %s: %w", c.Name(), err)
	}
	return int(n), nil
}

// Range returns the documents whose date at field lies in [from, to].
func (s *Store) Range(ctx context.Context, layer, col, field string, from, to time.Time, opts store.FindOptions) ([]store.Document, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return nil, fmt.Errorf("store: range: %w", err)
	}
	if err := store.CheckRange(field, opts); err != nil {
		return nil, fmt.Errorf("store: range in %s: %w", c.Name(), err)
	}
	sel, err := store.RangeSelector(field, from, to, opts.Selector)
	if err != nil {
		return nil, fmt.Errorf("store: range in %s: %w", c.Name(), err)
	}
	if opts.Sort == nil {
		opts.Sort = query.SortSpec{{Field: field}}
	}
	out, err := s.find(ctx, c, filter(sel), opts)
	if err != nil {
		return nil, fmt.Errorf("store: range in %s: %w", c.Name(), err)
	}
	return out, nil
}

// Near returns the documents near (lon, lat), computed client-side (see the
// package documentation).
func (s *Store) Near(ctx context.Context, layer, col string, lon, lat, maxMeters float64, opts store.FindOptions) ([]store.Document, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return nil, fmt.Errorf("store: near: %w", err)
	}
	if err := store.CheckFind(opts); err != nil {
		return nil, fmt.Errorf("store: near in %s: %w", c.Name(), err)
	}
	f := map[string]any{"geometry": map[string]any{"$exists": true}}
	if opts.Selector != nil {
		f = map[string]any{"$and": []any{f, filter(opts.Selector)}}
	}
	all, err := s.find(ctx, c, f, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("store: near in %s: %w", c.Name(), err)
	}
	return store.FinishNear(all, lon, lat, maxMeters, opts), nil
}

// writeErrors returns the per-document errors of a multi-document write by
// index, or err itself when it is not a per-document error.
func writeErrors(err error) (map[int]error, error) {
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		out := map[int]error{}
		for _, we := range bwe.WriteErrors {
			if we.Code == 11000 || we.Code == 11001 {
				out[we.Index] = fmt.Errorf("%w: duplicate key (_id or a unique index): %s", store.ErrConflict, we.Message)
			} else {
				out[we.Index] = fmt.Errorf("%w: %s", store.ErrInvalid, we.Message)
			}
		}
		return out, nil
	}
	return nil, err
}

// Insert inserts documents, unordered: a failed document does not stop the
// others.
func (s *Store) Insert(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res := store.NewWriteResult()
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return res, fmt.Errorf("store: insert: %w", err)
	}
	now := s.clock()
	type prepared struct {
		id  string
		doc store.Document
		err error
	}
	preps := make([]prepared, len(docs))
	var batch []any
	var batchIdx []int
	for i, in := range docs {
		doc, id, err := store.PrepareInsert(in, now)
		preps[i] = prepared{id, doc, err}
		if err == nil {
			batchIdx = append(batchIdx, i)
			batch = append(batch, doc)
		}
	}
	if len(batch) > 0 {
		_, err := c.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
		errs, err := writeErrors(err)
		if err != nil {
			return store.WriteResult{}, fmt.Errorf("store: insert into %s: %w", c.Name(), err)
		}
		for k, e := range errs {
			preps[batchIdx[k]].err = fmt.Errorf("document %q in %s: %w", preps[batchIdx[k]].id, c.Name(), e)
		}
	}
	for _, p := range preps {
		if p.err != nil {
			res.Fail(p.id, p.err)
			continue
		}
		res.Succeed(store.Change{Op: store.OpInsert, Layer: layer, Collection: col, ID: p.id, Fields: store.TopFields(p.doc)})
	}
	return res, nil
}

// serverUpdate turns a checked, normalised update into the server update
// with _updated set.
func serverUpdate(norm map[string]any, now time.Time) bson.M {
	up := bson.M{}
	plain := true
	for k := range norm {
		if strings.HasPrefix(k, "$") {
			plain = false
		}
	}
	if plain {
		up["$set"] = bson.M(norm)
	} else {
		for k, v := range norm {
			if k == "$setOnInsert" {
				continue
			}
			up[k] = v
		}
	}
	set, _ := up["$set"].(bson.M)
	if set == nil {
		if m, ok := up["$set"].(map[string]any); ok {
			set = bson.M(m)
		} else {
			set = bson.M{}
		}
	}
	set = cloneM(set)
	set[store.FieldUpdated] = now
	up["$set"] = set
	return up
}

func cloneM(m bson.M) bson.M {
	out := make(bson.M, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// prepareUpdate checks and normalises an update.
func prepareUpdate(update map[string]any) (map[string]any, error) {
	if err := store.CheckUpdate(update); err != nil {
		return nil, err
	}
	n, err := store.Normalize(update)
	if err != nil {
		return nil, err
	}
	return n.(map[string]any), nil
}

// UpdateByID validates the update against the current document with the
// query package (so both backends accept and reject the same updates),
// then lets the server apply it atomically.
func (s *Store) UpdateByID(ctx context.Context, layer, col, id string, update map[string]any) ([]string, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return nil, fmt.Errorf("store: update: %w", err)
	}
	now := s.clock()
	changed, _, err := s.updateOne(ctx, c, id, update, now)
	if err != nil {
		return nil, fmt.Errorf("store: update: %w", err)
	}
	return changed, nil
}

// UpdateIf applies a MongoDB update to one document if it matches sel: the
// server checks sel and updates in one findAndModify.
func (s *Store) UpdateIf(ctx context.Context, layer, col, id string, sel *query.Selector, update map[string]any) ([]string, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return nil, fmt.Errorf("store: update: %w", err)
	}
	if err := store.CheckSelector(sel); err != nil {
		return nil, fmt.Errorf("store: update %q in %s: %w", id, c.Name(), err)
	}
	changed, _, err := s.updateOneIf(ctx, c, id, sel, update, s.clock())
	if err != nil {
		return nil, fmt.Errorf("store: update: %w", err)
	}
	return changed, nil
}

func (s *Store) updateOne(ctx context.Context, c *mongo.Collection, id string, update map[string]any, now time.Time) ([]string, store.Document, error) {
	return s.updateOneIf(ctx, c, id, nil, update, now)
}

// updateOneIf is updateOne when the document matches sel (nil: any).
func (s *Store) updateOneIf(ctx context.Context, c *mongo.Collection, id string, sel *query.Selector, update map[string]any, now time.Time) ([]string, store.Document, error) {
	norm, err := prepareUpdate(update)
	if err != nil {
		return nil, nil, fmt.Errorf("document %q in %s: %w", id, c.Name(), err)
	}
	var r bson.M
	err = c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetMaxTime(s.maxTime(ctx))).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil, fmt.Errorf("document %q in %s: %w", id, c.Name(), store.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %q in %s: %w", id, c.Name(), err)
	}
	if _, err := query.ApplyUpdateAt(toDoc(r), norm, now); err != nil {
		return nil, nil, fmt.Errorf("document %q in %s: %w: %w", id, c.Name(), store.ErrInvalid, err)
	}
	var match any = bson.D{{Key: "_id", Value: id}}
	if sel != nil {
		match = bson.M{"$and": bson.A{match, filter(sel)}}
	}
	err = c.FindOneAndUpdate(ctx, match, serverUpdate(norm, now),
		options.FindOneAndUpdate().SetReturnDocument(options.Before).SetMaxTime(s.maxTime(ctx))).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if sel != nil {
			if n, cerr := c.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}}); cerr == nil && n > 0 {
				return nil, nil, fmt.Errorf("document %q in %s: %w", id, c.Name(), store.ErrUnmatched)
			}
		}
		return nil, nil, fmt.Errorf("document %q in %s: %w", id, c.Name(), store.ErrNotFound)
	}
	if isDuplicate(err) {
		return nil, nil, fmt.Errorf("document %q in %s: %w: %w", id, c.Name(), store.ErrConflict, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("update %q in %s: %w: %w", id, c.Name(), store.ErrInvalid, err)
	}
	// the changes relative to the document the server updated
	after := toDoc(r)
	changed, err := query.ApplyUpdateAt(after, norm, now)
	if err != nil {
		changed = nil
	}
	if changed == nil {
		changed = []string{}
	}
	return changed, after, nil
}

// UpdateMany sets the given fields of each document by its _id, one
// document after the other.
func (s *Store) UpdateMany(ctx context.Context, layer, col string, docs []store.Document) (store.WriteResult, error) {
	res := store.NewWriteResult()
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return res, fmt.Errorf("store: update: %w", err)
	}
	now := s.clock()
	for _, in := range docs {
		id, err := store.DocID(in)
		if err == nil && id == "" {
			err = fmt.Errorf("%w: document without _id", store.ErrInvalid)
		}
		var changed []string
		if err == nil {
			var upd map[string]any
			if upd, err = store.SetUpdate(in); err == nil {
				changed, _, err = s.updateOne(ctx, c, id, upd, now)
			}
		}
		if err == nil {
			res.Succeed(store.Change{Op: store.OpUpdate, Layer: layer, Collection: col, ID: id, Fields: changed})
			continue
		}
		if !store.IsDocumentError(err) {
			return res, fmt.Errorf("store: update in %s: %w", c.Name(), err)
		}
		res.Fail(id, err)
	}
	return res, nil
}

// DeleteByID removes one document.
func (s *Store) DeleteByID(ctx context.Context, layer, col, id string) error {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	r, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("store: delete %q in %s: %w", id, c.Name(), err)
	}
	if r.DeletedCount == 0 {
		return fmt.Errorf("store: delete: document %q in %s: %w", id, c.Name(), store.ErrNotFound)
	}
	return nil
}

// matchingIDs returns the ids of the documents matching f, in _id order.
func (s *Store) matchingIDs(ctx context.Context, c *mongo.Collection, f any) ([]string, error) {
	cur, err := c.Find(ctx, f, options.Find().SetProjection(bson.M{"_id": 1}).SetSort(bson.D{{Key: "_id", Value: 1}}).SetMaxTime(s.maxTime(ctx)))
	if err != nil {
		return nil, err
	}
	var raw []bson.M
	if err := cur.All(ctx, &raw); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(raw))
	for _, r := range raw {
		if id, ok := r["_id"].(string); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// DeleteMany removes the matching documents (history is kept). The ids
// reported are those matching when the delete started.
func (s *Store) DeleteMany(ctx context.Context, layer, col string, sel *query.Selector) (store.WriteResult, error) {
	res := store.NewWriteResult()
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return store.WriteResult{}, fmt.Errorf("store: delete: %w", err)
	}
	if err := store.CheckSelector(sel); err != nil {
		return store.WriteResult{}, fmt.Errorf("store: delete in %s: %w", c.Name(), err)
	}
	ids, err := s.matchingIDs(ctx, c, filter(sel))
	if err != nil {
		return store.WriteResult{}, fmt.Errorf("store: delete in %s: %w", c.Name(), err)
	}
	if len(ids) == 0 {
		return res, nil
	}
	if _, err := c.DeleteMany(ctx, bson.M{"_id": bson.M{"$in": ids}}); err != nil {
		return store.WriteResult{}, fmt.Errorf("store: delete in %s: %w", c.Name(), err)
	}
	for _, id := range ids {
		res.Succeed(store.Change{Op: store.OpDelete, Layer: layer, Collection: col, ID: id})
	}
	return res, nil
}

// Bulk upserts documents by _id, after emptying the collection when init is
// set (two steps: not atomic on MongoDB).
func (s *Store) Bulk(ctx context.Context, layer, col string, docs []store.Document, init bool) (store.WriteResult, error) {
	res := store.NewWriteResult()
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return res, fmt.Errorf("store: bulk: %w", err)
	}
	now := s.clock()
	before := map[string][]string{} // with init: the documents there before
	if init {
		cur, err := c.Find(ctx, bson.D{}, options.Find().SetProjection(bson.M{seqField: 0}).SetMaxTime(s.maxTime(ctx)))
		if err != nil {
			return res, fmt.Errorf("store: bulk into %s: %w", c.Name(), err)
		}
		var raw []bson.M
		if err := cur.All(ctx, &raw); err != nil {
			return res, fmt.Errorf("store: bulk into %s: %w", c.Name(), err)
		}
		for _, r := range raw {
			if id, ok := r["_id"].(string); ok {
				before[id] = store.TopFields(toDoc(r))
			}
		}
		if _, err := c.DeleteMany(ctx, bson.D{}); err != nil {
			return res, fmt.Errorf("store: bulk into %s: empty: %w", c.Name(), err)
		}
	}
	// Each document's outcome, in request order. New documents are queued
	// and inserted together (InsertMany, unordered); an existing document
	// gets its own update, after the queue is flushed (a document may come
	// twice).
	type outcome struct {
		id     string
		change store.Change
		err    error
		doc    store.Document // inserted document, for its history
	}
	outs := make([]outcome, len(docs))
	ids := make([]any, 0, len(docs))
	for i, in := range docs {
		id, err := store.DocID(in)
		if err == nil && id == "" {
			id = store.NewID()
		}
		outs[i] = outcome{id: id, err: err}
		if err == nil {
			ids = append(ids, id)
		}
	}
	exists := map[string]bool{}
	if len(ids) > 0 {
		got, err := s.matchingIDs(ctx, c, bson.M{"_id": bson.M{"$in": ids}})
		if err != nil {
			return res, fmt.Errorf("store: bulk into %s: %w", c.Name(), err)
		}
		for _, id := range got {
			exists[id] = true
		}
	}
	var queue []int // indexes of queued inserts
	flush := func() error {
		if len(queue) == 0 {
			return nil
		}
		batch := make([]any, len(queue))
		for k, i := range queue {
			batch[k] = outs[i].doc
		}
		_, err := c.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
		errs, err := writeErrors(err)
		if err != nil {
			return err
		}
		for k, e := range errs {
			outs[queue[k]].err = fmt.Errorf("document %q in %s: %w", outs[queue[k]].id, c.Name(), e)
		}
		queue = queue[:0]
		return nil
	}
	for i, in := range docs {
		o := &outs[i]
		if o.err != nil {
			continue
		}
		if exists[o.id] {
			if err := flush(); err != nil {
				return res, fmt.Errorf("store: bulk into %s: %w", c.Name(), err)
			}
			o.change = store.Change{Op: store.OpUpdate, Layer: layer, Collection: col, ID: o.id, Fields: []string{}}
			if len(in) > 1 {
				var upd map[string]any
				if upd, o.err = store.SetUpdate(in); o.err == nil {
					o.change.Fields, _, o.err = s.updateOne(ctx, c, o.id, upd, now)
				}
				if o.err != nil && !store.IsDocumentError(o.err) {
					return res, fmt.Errorf("store: bulk into %s: %w", c.Name(), o.err)
				}
			}
			continue
		}
		if o.doc, _, o.err = store.PrepareInsert(withID(in, o.id), now); o.err != nil {
			continue
		}
		o.change = store.Change{Op: store.OpInsert, Layer: layer, Collection: col, ID: o.id, Fields: store.TopFields(o.doc)}
		if prev, ok := before[o.id]; ok {
			o.change.Op, o.change.Fields = store.OpUpdate, store.MergeFields(prev, o.change.Fields)
		}
		exists[o.id] = true
		queue = append(queue, i)
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("store: bulk into %s: %w", c.Name(), err)
	}
	written := map[string]bool{}
	for _, o := range outs {
		if o.err != nil {
			res.Fail(o.id, o.err)
			continue
		}
		written[o.id] = true
		res.Succeed(o.change)
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
	return res, nil
}

func withID(doc store.Document, id string) store.Document {
	out := make(store.Document, len(doc)+1)
	for k, v := range doc {
		out[k] = v
	}
	out[store.FieldID] = id
	return out
}
