package history

import (
	"context"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
)

// Reads that look through decorators reach the backend through the
// recorder, as the hub stacks them (WithChanges over the Recorder).
func TestRecorderUnwraps(t *testing.T) {
	ctx := context.Background()
	rec, _ := newRecorder(t)
	if _, err := rec.Insert(ctx, "demo", "meters", []store.Document{{"_id": "M1", "name": "feeder"}}); err != nil {
		t.Fatal(err)
	}
	st := store.WithChanges(rec, func(store.Change) {})
	if data, ok, err := store.GetJSON(ctx, st, "demo", "meters", "M1"); !ok || err != nil || len(data) == 0 {
		t.Errorf("store.GetJSON through the recorder: %q, %v, %v; want the document", data, ok, err)
	}
	if _, ok, err := store.ExplainFind(ctx, st, "demo", "meters", store.FindOptions{}); !ok || err != nil {
		t.Errorf("store.ExplainFind through the recorder: %v, %v; want a plan", ok, err)
	}
}
