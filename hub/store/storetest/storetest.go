// Package storetest is the contract test suite every store backend passes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// Run runs the contract suite; open returns a new, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Layers", func(t *testing.T) { testLayers(t, open(t)) })
	t.Run("ApplyBatchIdempotent", func(t *testing.T) { testApplyIdempotent(t, open(t)) })
	t.Run("ApplyBatchMissingCollection", func(t *testing.T) { testApplyMissing(t, open(t)) })
	t.Run("FindSkipLimitOrder", func(t *testing.T) { testFind(t, open(t)) })
	t.Run("HistoryRange", func(t *testing.T) { testHistory(t, open(t)) })
}

var ctx = context.Background()

func demoLayer() store.Layer {
	return store.Layer{ID: "demo", Label: "Demo", Collections: []store.Collection{{Name: "meters"}}}
}

func batch(edge string, first uint64, ts time.Time, ids ...string) *model.Batch {
	b := &model.Batch{Edge: edge, SeqFirst: first, SeqLast: first + uint64(len(ids)) - 1}
	for i, id := range ids {
		b.Updates = append(b.Updates, model.MeasurementUpdate("demo", "meters", id, ts.Add(time.Duration(i)*time.Second),
			map[string]model.Measurement{"counter": {Value: float64(first) + float64(i), Quality: model.QualityGood, Timestamp: ts.Add(time.Duration(i) * time.Second)}}))
	}
	return b
}

func testLayers(t *testing.T, s store.Store) {
	if _, err := s.Layer(ctx, "demo"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Layer of a missing layer: got %v, want ErrNotFound", err)
	}
	if err := s.PutLayer(ctx, store.Layer{ID: "bad_name"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("PutLayer with '_' in the id: got %v, want ErrInvalid", err)
	}
	if err := s.PutLayer(ctx, demoLayer()); err != nil {
		t.Fatal(err)
	}
	ls, err := s.Layers(ctx)
	if err != nil || len(ls) != 1 || ls[0].ID != "demo" || ls[0].Collection("meters") == nil {
		t.Fatalf("Layers: got %+v, %v", ls, err)
	}
	if _, err := s.Get(ctx, "demo", "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get in a missing collection: got %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "demo", "meters", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing document: got %v, want ErrNotFound", err)
	}
}

func counter(t *testing.T, d store.Document) float64 {
	t.Helper()
	m, _ := d["measurements"].(map[string]any)
	c, _ := m["counter"].(map[string]any)
	v, ok := c["value"].(float64)
	if !ok {
		t.Fatalf("document %v has no measurements.counter.value", d["_id"])
	}
	if _, ok := c["timestamp"].(time.Time); !ok {
		t.Fatalf("measurements.counter.timestamp is %T, want time.Time", c["timestamp"])
	}
	return v
}

func testApplyIdempotent(t *testing.T, s store.Store) {
	if err := s.PutLayer(ctx, demoLayer()); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2021, 7, 28, 5, 48, 17, 103e6, time.UTC)
	res, err := s.ApplyBatch(ctx, batch("e1", 1, ts, "A", "B", "A"), store.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 3 || res.Skipped != 0 || len(res.Changes) != 2 || res.Changes[0].Op != "insert" {
		t.Fatalf("first apply: %+v", res)
	}
	// replay: nothing changes
	res, err = s.ApplyBatch(ctx, batch("e1", 1, ts, "A", "B", "A"), store.ApplyOptions{})
	if err != nil || res.Applied != 0 || res.Skipped != 3 {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	// overlapping batch: only the new part applies
	res, err = s.ApplyBatch(ctx, batch("e1", 3, ts, "A", "B"), store.ApplyOptions{})
	if err != nil || res.Applied != 1 || res.Skipped != 1 {
		t.Fatalf("overlap: %+v, %v", res, err)
	}
	// another edge has its own sequence
	if res, err = s.ApplyBatch(ctx, batch("e2", 1, ts, "C"), store.ApplyOptions{}); err != nil || res.Applied != 1 {
		t.Fatalf("edge e2: %+v, %v", res, err)
	}
	// a gap is applied and reported
	res, err = s.ApplyBatch(ctx, batch("e1", 10, ts, "A"), store.ApplyOptions{})
	if err != nil || res.Applied != 1 || res.Gap != 5 {
		t.Fatalf("gap: %+v, %v", res, err)
	}
	if hwm, _ := s.HighWaterMark(ctx, "e1"); hwm != 10 {
		t.Fatalf("high-water mark: got %d, want 10", hwm)
	}
	a, err := s.Get(ctx, "demo", "meters", "A")
	if err != nil {
		t.Fatal(err)
	}
	if got := counter(t, a); got != 10 {
		t.Fatalf("A counter: got %v, want 10", got)
	}
	if _, ok := a["_updated"].(time.Time); !ok || a["_id"] != "A" || a["_expired"] != false {
		t.Fatalf("A maintained fields: %v", a)
	}
	if _, ok := a[model.MeasurementsTimestampField].(time.Time); !ok {
		t.Fatalf("measurementsTimestamp is %T, want time.Time", a[model.MeasurementsTimestampField])
	}
	hist, err := s.History(ctx, "demo", "meters", store.HistoryQuery{ID: "A", Field: "measurements.counter"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 {
		t.Fatalf("history of A: got %d points, want 3 (no duplicates from the replay)", len(hist))
	}
}

func testApplyMissing(t *testing.T, s store.Store) {
	ts := time.Now()
	if _, err := s.ApplyBatch(ctx, batch("e1", 1, ts, "A"), store.ApplyOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("apply to a missing layer: got %v, want ErrNotFound", err)
	}
	if hwm, _ := s.HighWaterMark(ctx, "e1"); hwm != 0 {
		t.Fatalf("a failed apply moved the high-water mark to %d", hwm)
	}
	res, err := s.ApplyBatch(ctx, batch("e1", 1, ts, "A"), store.ApplyOptions{CreateMissing: true})
	if err != nil || res.Applied != 1 || len(res.Created) != 2 {
		t.Fatalf("apply with CreateMissing: %+v, %v", res, err)
	}
	if _, err := s.Get(ctx, "demo", "meters", "A"); err != nil {
		t.Fatal(err)
	}
	bad := &model.Batch{Edge: "e1", SeqFirst: 2, SeqLast: 3, Updates: batch("e1", 2, ts, "A").Updates}
	if _, err := s.ApplyBatch(ctx, bad, store.ApplyOptions{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("malformed batch: got %v, want ErrInvalid", err)
	}
}

func testFind(t *testing.T, s store.Store) {
	if err := s.PutLayer(ctx, demoLayer()); err != nil {
		t.Fatal(err)
	}
	ids := []string{"d", "a", "c", "b", "e"}
	if _, err := s.ApplyBatch(ctx, batch("e1", 1, time.Now(), ids...), store.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts store.FindOptions
		want string
	}{
		{"all by _id", store.FindOptions{}, "abcde"},
		{"skip limit", store.FindOptions{Skip: 1, Limit: 2}, "bc"},
		{"match", store.FindOptions{Match: func(d store.Document) bool { return d["_id"] != "c" }}, "abde"},
		{"sorted desc", store.FindOptions{Less: func(a, b store.Document) bool { return a["_id"].(string) > b["_id"].(string) }, Limit: 3}, "edc"},
		{"skip past end", store.FindOptions{Skip: 9}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := s.Find(ctx, "demo", "meters", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, d := range docs {
				got += d["_id"].(string)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func testHistory(t *testing.T, s store.Store) {
	if err := s.PutLayer(ctx, demoLayer()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		b := batch("e1", uint64(i+1), t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("M%d", i%2))
		if _, err := s.ApplyBatch(ctx, b, store.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pts, err := s.History(ctx, "demo", "meters", store.HistoryQuery{ID: "M0", Field: "measurements.counter", From: t0.Add(2 * time.Minute), To: t0.Add(6 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || !pts[0].TS.Equal(t0.Add(2*time.Minute)) || !pts[2].TS.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("history range: got %d points %v", len(pts), pts)
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].TS.Before(pts[i-1].TS) {
			t.Fatalf("history not in time order: %v", pts)
		}
	}
}
