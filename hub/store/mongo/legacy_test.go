package mongo

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/gridedge/gridedge/hub/store"
)

// The per-reading history documents of earlier versions are found, read in
// (document, field, time) order in batches, and dropped; writes no longer
// create them.
func TestLegacyHistory(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.PutLayer(ctx, store.Layer{ID: "demo", Collections: []store.Collection{{Name: "meters"}, {Name: "empty"}}}); err != nil {
		t.Fatal(err)
	}
	if cols, err := s.LegacyHistoryCollections(ctx); err != nil || len(cols) != 0 {
		t.Fatalf("a new store: got %v, %v, want no legacy history", cols, err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var docs []any
	for i := range 5 {
		for _, id := range []string{"B", "A"} {
			ts := t0.Add(time.Duration(4-i) * time.Minute)
			docs = append(docs, bson.M{"_id": id + ts.String(), "doc": id, "field": "measurements.p", "ts": ts, "seq": int64(i),
				"value": bson.M{"value": float64(i), "quality": 1.0, "timestamp": ts}})
		}
	}
	if _, err := s.db.Collection("demo_meters.history").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	cols, err := s.LegacyHistoryCollections(ctx)
	if err != nil || len(cols) != 1 || cols[0] != (store.LegacyCollection{Layer: "demo", Collection: "meters"}) {
		t.Fatalf("legacy collections: got %v, %v, want demo/meters", cols, err)
	}
	var got []store.Point
	batches := 0
	if err := s.ScanLegacyHistory(ctx, "demo", "meters", 3, func(pts []store.Point) error {
		batches++
		got = append(got, pts...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || batches != 4 || got[0].ID != "A" || got[5].ID != "B" || !got[0].TS.Equal(t0) || !got[4].TS.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("scan: got %d points in %d batches: %v", len(got), batches, got)
	}
	if m, _ := got[0].Value.(map[string]any); m["value"] != 4.0 {
		t.Errorf("first point's value: got %v, want {value: 4}", got[0].Value)
	}
	if err := s.DropLegacyHistory(ctx, "demo", "meters"); err != nil {
		t.Fatal(err)
	}
	if cols, err := s.LegacyHistoryCollections(ctx); err != nil || len(cols) != 0 {
		t.Fatalf("after the drop: got %v, %v, want none", cols, err)
	}
}
