package history

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

func newRecorder(t *testing.T) (*Recorder, *TSDB) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutLayer(context.Background(), store.Layer{ID: "demo", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, t.TempDir())
	return NewRecorder(st, db, nil), db
}

// Edge batches and REST writes reach the history through the recorder;
// a replayed batch adds nothing; non-measurement fields are not history.
func TestRecorder(t *testing.T) {
	ctx := context.Background()
	rec, db := newRecorder(t)
	m := func(v any, sec int) model.Measurement {
		return model.Measurement{Value: v, Quality: 1, Timestamp: t0.Add(time.Duration(sec) * time.Second)}
	}
	b := &model.Batch{Edge: "edge1", SeqFirst: 1, SeqLast: 2, Updates: []model.Update{
		{Layer: "demo", Collection: "meters", ID: "M1", Set: map[string]any{"measurements.voltage": m(230.0, 0), "name": "feeder"}, TS: t0},
		{Layer: "demo", Collection: "meters", ID: "M1", Set: map[string]any{"measurements.voltage": m(231.0, 1)}, TS: t0},
	}}
	for range 2 { // the second time is a replay
		if _, err := rec.ApplyBatch(ctx, b, store.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.Insert(ctx, "demo", "meters", []store.Document{{"_id": "M2", "name": "x",
		"measurements": map[string]any{"power": map[string]any{"value": 5.0, "quality": 1, "timestamp": t0.Add(2 * time.Second)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.UpdateByID(ctx, "demo", "meters", "M2", map[string]any{"measurements.power": map[string]any{"value": 6.0, "quality": 2, "timestamp": t0.Add(3 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.UpdateByID(ctx, "demo", "meters", "M2", map[string]any{"name": "y"}); err != nil {
		t.Fatal(err)
	}
	named := func(n string) *query.Selector {
		s, err := query.CompileSelector(map[string]any{"name": n})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := rec.UpdateIf(ctx, "demo", "meters", "M2", named("y"), map[string]any{"measurements.power": map[string]any{"value": 7.0, "quality": 1, "timestamp": t0.Add(4 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.UpdateIf(ctx, "demo", "meters", "M2", named("x"), map[string]any{"measurements.power": map[string]any{"value": 8.0, "quality": 1, "timestamp": t0.Add(5 * time.Second)}}); !errors.Is(err, store.ErrUnmatched) {
		t.Fatalf("an unmatched conditional update: %v", err)
	}
	got := collect(t, db, Query{Layer: "demo", Collection: "meters"})
	want := map[string]string{
		"M1 measurements.voltage": `[["2024-05-01T10:00:00.000Z",230,1],["2024-05-01T10:00:01.000Z",231,1]]`,
		"M2 measurements.power":   `[["2024-05-01T10:00:02.000Z",5,1],["2024-05-01T10:00:03.000Z",6,2],["2024-05-01T10:00:04.000Z",7,1]]`,
	}
	if len(got) != len(want) {
		t.Errorf("got series %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %s, want %s", k, got[k], w)
		}
	}
	if got := db.Stats().Written; got != 5 {
		t.Errorf("written %d samples, want 5", got)
	}
}

// A batch older than the window is applied to the documents, and its
// history refused and counted for its edge.
func TestRecorderRefusesTooOld(t *testing.T) {
	ctx := context.Background()
	rec, _ := newRecorder(t)
	mk := func(seq uint64, ts time.Time) *model.Batch {
		return &model.Batch{Edge: "edge1", SeqFirst: seq, SeqLast: seq, Updates: []model.Update{{Layer: "demo", Collection: "meters", ID: "M1",
			Set: map[string]any{"measurements.p": model.Measurement{Value: 1.0, Quality: 1, Timestamp: ts}}, TS: ts}}}
	}
	for i, ts := range []time.Time{t0, t0.Add(-72 * time.Hour)} {
		res, err := rec.ApplyBatch(ctx, mk(uint64(i+1), ts), store.ApplyOptions{})
		if err != nil || res.Applied != 1 {
			t.Fatalf("ApplyBatch = %+v, %v; want applied", res, err)
		}
	}
	if got := rec.Refused("edge1"); got != 1 {
		t.Errorf("Refused(edge1) = %d, want 1", got)
	}
}
