package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/gridedge/gridedge/hub/store"
)

// historyName is the legacy history collection of a collection: one
// document per reading {_id, doc, field, ts, seq, value}, written by earlier
// versions. Nothing writes it any more; the hub moves what it finds into its
// time-series history at start (store.LegacyHistory).
func historyName(layer, col string) string { return store.StoreName(layer, col) + ".history" }

var _ store.LegacyHistory = (*Store)(nil)

// LegacyHistoryCollections lists the collections of every layer whose
// legacy history collection holds documents.
func (s *Store) LegacyHistoryCollections(ctx context.Context) ([]store.LegacyCollection, error) {
	layers, err := s.Layers(ctx)
	if err != nil {
		return nil, err
	}
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("store: list legacy history: %w", err)
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	var out []store.LegacyCollection
	for _, l := range layers {
		for _, c := range l.Collections {
			hn := historyName(l.ID, c.Name)
			if !have[hn] {
				continue
			}
			n, err := s.db.Collection(hn).EstimatedDocumentCount(ctx)
			if err != nil {
				return nil, fmt.Errorf("store: count %s: %w", hn, err)
			}
			if n == 0 {
				// the estimate may lag: look for one document
				if err := s.db.Collection(hn).FindOne(ctx, bson.D{}).Err(); err != nil {
					continue
				}
			}
			out = append(out, store.LegacyCollection{Layer: l.ID, Collection: c.Name})
		}
	}
	return out, nil
}

// ScanLegacyHistory reads a legacy history collection in (doc, field, ts,
// seq) order.
func (s *Store) ScanLegacyHistory(ctx context.Context, layer, col string, batch int, fn func([]store.Point) error) error {
	if batch <= 0 {
		batch = 10000
	}
	hn := historyName(layer, col)
	fo := options.Find().SetSort(bson.D{{Key: "doc", Value: 1}, {Key: "field", Value: 1}, {Key: "ts", Value: 1}, {Key: "seq", Value: 1}}).
		SetBatchSize(int32(min(batch, 1<<20)))
	cur, err := s.db.Collection(hn).Find(ctx, bson.D{}, fo)
	if err != nil {
		return fmt.Errorf("store: read %s: %w", hn, err)
	}
	defer cur.Close(ctx)
	pts := make([]store.Point, 0, batch)
	for cur.Next(ctx) {
		var r struct {
			Doc   string    `bson:"doc"`
			Field string    `bson:"field"`
			TS    time.Time `bson:"ts"`
			Value any       `bson:"value"`
		}
		if err := cur.Decode(&r); err != nil {
			return fmt.Errorf("store: read %s: %w", hn, err)
		}
		if pts = append(pts, store.Point{ID: r.Doc, Field: r.Field, TS: r.TS.UTC(), Value: fromBSON(r.Value)}); len(pts) == batch {
			if err := fn(pts); err != nil {
				return err
			}
			pts = pts[:0]
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("store: read %s: %w", hn, err)
	}
	if len(pts) > 0 {
		return fn(pts)
	}
	return nil
}

// DropLegacyHistory drops the legacy history collection of a collection.
func (s *Store) DropLegacyHistory(ctx context.Context, layer, col string) error {
	if err := s.db.Collection(historyName(layer, col)).Drop(ctx); err != nil {
		return fmt.Errorf("store: drop %s: %w", historyName(layer, col), err)
	}
	return nil
}
