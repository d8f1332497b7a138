package mongo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// HighWaterMark returns the last sequence number applied for edge.
func (s *Store) HighWaterMark(ctx context.Context, edge string) (uint64, error) {
	var r struct {
		HWM int64 `bson:"hwm"`
	}
	err := s.db.Collection(collEdges).FindOne(ctx, bson.D{{Key: "_id", Value: edge}}, options.FindOne().SetMaxTime(s.maxTime(ctx))).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: high-water mark of %q: %w", edge, err)
	}
	return uint64(r.HWM), nil
}

// docOp is the merged write of one document in a batch.
type docOp struct {
	layer, col, id string
	seq            uint64         // the last sequence number merged
	set            map[string]any // path → value
	fields         []string
}

// conflicts reports whether path overlaps a path already in the op.
func (o *docOp) conflicts(path string) bool {
	for p := range o.set {
		if p != path && (strings.HasPrefix(p, path+".") || strings.HasPrefix(path, p+".")) {
			return true
		}
	}
	return false
}

// ApplyBatch applies an edge batch idempotently without transactions (see
// the package documentation).
func (s *Store) ApplyBatch(ctx context.Context, b *model.Batch, opts store.ApplyOptions) (store.ApplyResult, error) {
	var res store.ApplyResult
	if err := b.Validate(); err != nil {
		return res, fmt.Errorf("store: apply batch: %w: %v", store.ErrInvalid, err)
	}
	what := "store: apply batch " + b.MsgID()
	now := opts.Now
	if now.IsZero() {
		now = s.now()
	}
	now = store.Timestamp(now)
	hwm, err := s.HighWaterMark(ctx, b.Edge)
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	if b.SeqLast <= hwm {
		res.Skipped = len(b.Updates)
		return res, nil
	}
	if b.SeqFirst > hwm+1 {
		res.Gap = b.SeqFirst - hwm - 1
	}
	// check (or create) the layers and collections first: nothing is
	// written when one is missing
	layers := map[string]*store.Layer{}
	for i := range b.Updates {
		u := &b.Updates[i]
		if b.SeqFirst+uint64(i) <= hwm {
			continue
		}
		if err := s.ensureCollection(ctx, layers, u.Layer, u.Collection, opts.CreateMissing, &res); err != nil {
			return store.ApplyResult{}, fmt.Errorf("%s: update seq %d: %w", what, b.SeqFirst+uint64(i), err)
		}
	}
	// merged document writes (rounds of non-conflicting ops)
	var rounds [][]*docOp
	current := map[string]*docOp{} // layer/col/id → op being merged
	depth := map[string]int{}      // layer/col/id → round of the current op
	changeIdx := map[string]int{}
	for i := range b.Updates {
		seq := b.SeqFirst + uint64(i)
		if seq <= hwm {
			res.Skipped++
			continue
		}
		u := &b.Updates[i]
		key := u.Layer + "\x00" + u.Collection + "\x00" + u.ID
		op := current[key]
		for _, path := range slices.Sorted(maps.Keys(u.Set)) {
			if strings.HasPrefix(path, "_") {
				return store.ApplyResult{}, fmt.Errorf("%s: update seq %d: %w: field %q is maintained by the hub", what, seq, store.ErrInvalid, path)
			}
			val, err := store.NormalizeUpdateValue(path, u.Set[path])
			if err != nil {
				return store.ApplyResult{}, fmt.Errorf("%s: update seq %d: %w", what, seq, err)
			}
			if op == nil || op.conflicts(path) {
				d := 0
				if op != nil {
					d = depth[key] + 1
				}
				op = &docOp{layer: u.Layer, col: u.Collection, id: u.ID, set: map[string]any{}}
				current[key], depth[key] = op, d
				for len(rounds) <= d {
					rounds = append(rounds, nil)
				}
				rounds[d] = append(rounds[d], op)
			}
			op.set[path] = val
			op.fields = append(op.fields, path)
		}
		if op != nil {
			op.seq = seq
		}
		res.Applied++
	}
	for _, round := range rounds {
		for _, op := range round {
			inserted, err := s.applyOp(ctx, b.Edge, op, now)
			if err != nil {
				return store.ApplyResult{}, fmt.Errorf("%s: document %q in %s: %w", what, op.id, store.StoreName(op.layer, op.col), err)
			}
			key := op.layer + "\x00" + op.col + "\x00" + op.id
			fields := append([]string(nil), op.fields...)
			sort.Strings(fields)
			if j, ok := changeIdx[key]; ok {
				res.Changes[j].Fields = store.MergeFields(res.Changes[j].Fields, fields)
				continue
			}
			kind := store.OpUpdate
			if inserted {
				kind = store.OpInsert
			}
			changeIdx[key] = len(res.Changes)
			res.Changes = append(res.Changes, store.Change{Op: kind, Layer: op.layer, Collection: op.col, ID: op.id, Fields: store.MergeFields(nil, fields)})
		}
	}
	// 3. the high-water mark
	_, err = s.db.Collection(collEdges).UpdateOne(ctx, bson.D{{Key: "_id", Value: b.Edge}},
		bson.M{"$max": bson.M{"hwm": int64(b.SeqLast)}}, options.Update().SetUpsert(true))
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("%s: high-water mark: %w", what, err)
	}
	return res, nil
}

// applyOp writes one merged document op with the _seq guard; inserted
// reports a new document. A guard miss (replay) is not an error.
func (s *Store) applyOp(ctx context.Context, edge string, op *docOp, now time.Time) (inserted bool, err error) {
	guard := seqField + "." + edge
	set := bson.M{store.FieldUpdated: now, guard: int64(op.seq)}
	for k, v := range op.set {
		set[k] = v
	}
	f := bson.M{"_id": op.id, "$or": bson.A{bson.M{guard: bson.M{"$exists": false}}, bson.M{guard: bson.M{"$lt": int64(op.seq)}}}}
	up := bson.M{"$set": set, "$setOnInsert": bson.M{store.FieldExpired: false}}
	r, err := s.db.Collection(store.StoreName(op.layer, op.col)).UpdateOne(ctx, f, up, options.Update().SetUpsert(true))
	if isDuplicate(err) {
		return false, nil // the document has this edge's update already
	}
	if err != nil {
		return false, err
	}
	return r.UpsertedCount > 0, nil
}

// ensureCollection checks that layer/col exists, creating it with
// createMissing (store.EnsureCollection). cache holds the layers read.
func (s *Store) ensureCollection(ctx context.Context, cache map[string]*store.Layer, layer, col string, createMissing bool, res *store.ApplyResult) error {
	l, cached := cache[layer]
	if !cached {
		var err error
		l, err = s.layer(ctx, layer)
		if err != nil && !(createMissing && errors.Is(err, store.ErrNotFound)) {
			return err
		}
		// l is nil when the layer is missing and may be created
	}
	if l != nil && l.Collection(col) != nil {
		cache[layer] = l
		return nil
	}
	if !createMissing {
		return fmt.Errorf("collection %q of layer %q: %w", col, layer, store.ErrNotFound)
	}
	l, _ = store.EnsureCollection(l, layer, col, res)
	if err := s.putLayer(ctx, l); err != nil {
		return err
	}
	cache[layer] = l
	return nil
}
