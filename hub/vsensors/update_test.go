package vsensors

import (
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

func TestUpdateOf(t *testing.T) {
	t1 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	t2, t3, upd := t1.Add(time.Second), t1.Add(2*time.Second), t1.Add(time.Hour)
	key := docKey{"gridflex", "generators", "TSO"}
	doc := store.Document{"_id": "TSO", "_updated": upd, "_expired": false, "name": "tso",
		"measurementsTimestamp": t2,
		"measurements": map[string]any{
			"activePower":   map[string]any{"value": 1.0, "timestamp": t1},
			"reactivePower": map[string]any{"value": 2.0, "timestamp": t3},
		}}
	tests := []struct {
		name   string
		doc    store.Document
		fields []string
		want   model.Update
	}{
		{"changed measurements: the latest measurement timestamp", doc, []string{"measurements.activePower", "measurements.reactivePower"},
			model.Update{Layer: "gridflex", Collection: "generators", ID: "TSO", TS: t3, Set: map[string]any{
				"measurements.activePower": doc["measurements"].(map[string]any)["activePower"], "measurements.reactivePower": doc["measurements"].(map[string]any)["reactivePower"]}}},
		{"a field without timestamp: measurementsTimestamp", doc, []string{"name"},
			model.Update{Layer: "gridflex", Collection: "generators", ID: "TSO", TS: t2, Set: map[string]any{"name": "tso"}}},
		{"no date at all: _updated", store.Document{"_id": "TSO", "_updated": upd, "x": 1.0}, []string{"x", "gone"},
			model.Update{Layer: "gridflex", Collection: "generators", ID: "TSO", TS: upd, Set: map[string]any{"x": 1.0}}},
		{"no fields (a refresh): every top-level field but the maintained ones", store.Document{"_id": "TSO", "_updated": upd, "_expired": false, "x": 1.0, "y": "b"}, nil,
			model.Update{Layer: "gridflex", Collection: "generators", ID: "TSO", TS: upd, Set: map[string]any{"x": 1.0, "y": "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := updateOf(key, tt.doc, tt.fields); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
