package history

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/model"
)

// unreachableRemote is the remote backend at a loopback address nothing
// listens on.
func unreachableRemote(t *testing.T) *Remote {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	r, err := OpenRemote(RemoteOptions{WriteURL: base + "/api/v1/write", ReadURL: base})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An edge batch whose history cannot be written is not applied: the
// documents and the high-water mark stay as they were, and the error says
// the measurements were not recorded (not that the batch is bad). A REST
// write is applied, and its error says its history was not written; the
// same write repeated when the history is back records it.
func TestRecorderHistoryDown(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutLayer(ctx, store.Layer{ID: "demo", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(st, unreachableRemote(t), nil)
	b := &model.Batch{Edge: "edge1", SeqFirst: 1, SeqLast: 1, Updates: []model.Update{{Layer: "demo", Collection: "meters", ID: "M1",
		Set: map[string]any{"measurements.v": model.Measurement{Value: 1.0, Quality: 1, Timestamp: t0}}, TS: t0}}}
	res, err := rec.ApplyBatch(ctx, b, store.ApplyOptions{})
	if !errors.Is(err, ErrNotRecorded) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ApplyBatch = %+v, %v; want an error wrapping ErrNotRecorded only", res, err)
	}
	if hwm, err := st.HighWaterMark(ctx, "edge1"); err != nil || hwm != 0 {
		t.Errorf("high-water mark = %d, %v; want 0 (the batch not applied)", hwm, err)
	}
	if _, err := st.Get(ctx, "demo", "meters", "M1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("M1 = %v; want not found (the batch not applied)", err)
	}
	if rec.Held() != 1 {
		t.Errorf("Held = %d, want 1", rec.Held())
	}

	if _, err := st.Insert(ctx, "demo", "meters", []store.Document{{"_id": "M2"}}); err != nil {
		t.Fatal(err)
	}
	_, err = rec.UpdateByID(ctx, "demo", "meters", "M2", map[string]any{"measurements.p": map[string]any{"value": 6.0, "quality": 1, "timestamp": t0}})
	if !errors.Is(err, ErrNotRecorded) {
		t.Errorf("UpdateByID = %v; want an error wrapping ErrNotRecorded", err)
	}
	doc, err := st.Get(ctx, "demo", "meters", "M2")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["measurements"].(map[string]any)["p"]; !ok {
		t.Errorf("M2 = %v; want measurements.p written", doc)
	}
	bulk := []store.Document{{"_id": "M3", "measurements": map[string]any{"q": map[string]any{"value": 7.0, "quality": 1, "timestamp": t0}}}}
	if _, err := rec.Bulk(ctx, "demo", "meters", bulk, false); !errors.Is(err, ErrNotRecorded) {
		t.Errorf("Bulk = %v; want an error wrapping ErrNotRecorded", err)
	}
	if rec.Errors() != 3 || rec.Held() != 1 {
		t.Errorf("Errors = %d, Held = %d; want 3 and 1", rec.Errors(), rec.Held())
	}

	// the history back: the same writes again (changing no field) record
	// the points, and the batch applies
	db := openTest(t, t.TempDir())
	rec = NewRecorder(st, db, nil)
	if _, err := rec.UpdateByID(ctx, "demo", "meters", "M2", map[string]any{"$set": map[string]any{"measurements.p": map[string]any{"value": 6.0, "quality": 1, "timestamp": t0}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Bulk(ctx, "demo", "meters", bulk, false); err != nil {
		t.Fatal(err)
	}
	if res, err := rec.ApplyBatch(ctx, b, store.ApplyOptions{}); err != nil || res.Applied != 1 {
		t.Fatalf("ApplyBatch = %+v, %v; want applied", res, err)
	}
	got := collect(t, db, Query{Layer: "demo", Collection: "meters"})
	want := map[string]string{
		"M1 measurements.v": `[["2024-05-01T10:00:00.000Z",1,1]]`,
		"M2 measurements.p": `[["2024-05-01T10:00:00.000Z",6,1]]`,
		"M3 measurements.q": `[["2024-05-01T10:00:00.000Z",7,1]]`,
	}
	if len(got) != len(want) {
		t.Errorf("history %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
}

// A point written again (a batch retried after its history was written
// and its commit failed, or redelivered after a crash between the two) is
// read once from VictoriaMetrics, which keeps identical duplicates.
func TestRemoteReadsRewrittenPointsOnce(t *testing.T) {
	base := victoriaMetrics(t)
	ctx := context.Background()
	r, err := OpenRemote(RemoteOptions{WriteURL: base + "/api/v1/write", ReadURL: base})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	samples := []Sample{
		{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.v", T: start, Value: 1.0, Quality: 1},
		{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.v", T: start.Add(time.Second), Value: 2.0, Quality: 2},
	}
	for range 3 {
		if _, err := r.Append(ctx, samples); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(base + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `[["` + start.UTC().Format("2006-01-02T15:04:05.000Z") + `",1,1],["` + start.Add(time.Second).UTC().Format("2006-01-02T15:04:05.000Z") + `",2,2]]`
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = collect(t, r, Query{Layer: "demo", Collection: "meters", From: start, To: start.Add(time.Minute)})["M1 measurements.v"]; got != "" {
			break
		}
	}
	if got != want {
		t.Errorf("history = %s, want %s", got, want)
	}
}
