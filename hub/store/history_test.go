package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

func TestMeasurementPoints(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 500_000_000, time.UTC)
	read := time.Date(2024, 5, 1, 9, 59, 59, 0, time.UTC)
	p := map[string]any{"value": 1.0, "timestamp": read}
	q := map[string]any{"value": 2.0}
	doc := Document{FieldID: "M1", "name": "x", "measurements": map[string]any{"p": p, "q": q, "r": 3.0}}
	all := []Point{
		{ID: "M1", Field: "measurements.p", TS: read, Value: p},
		{ID: "M1", Field: "measurements.q", TS: now, Value: q},
		{ID: "M1", Field: "measurements.r", TS: now, Value: 3.0},
	}
	tests := []struct {
		name  string
		doc   Document
		paths []string
		want  []Point
	}{
		{"insert: every measurement", doc, nil, all},
		{"update of one measurement", doc, []string{"measurements.q"}, all[1:2]},
		{"update inside a measurement", doc, []string{"measurements.p.value", "measurements.p.quality"}, all[:1]},
		{"update of all measurements", doc, []string{"measurements"}, all},
		{"update of other fields", doc, []string{"name", "measurementsTimestamp"}, []Point{}},
		{"path to a removed measurement", doc, []string{"measurements.gone"}, []Point{}},
		{"no measurements", Document{FieldID: "M1", "name": "x"}, nil, nil},
		{"measurements not an object", Document{FieldID: "M1", "measurements": 5.0}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MeasurementPoints("M1", tt.doc, tt.paths, now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUpdateTS(t *testing.T) {
	uts := time.Date(2024, 5, 1, 10, 0, 0, 123_456_789, time.UTC)
	read := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	u := &model.Update{TS: uts}
	tests := []struct {
		name string
		val  any
		want time.Time
	}{
		{"measurement time", map[string]any{"value": 1.0, "timestamp": read}, read},
		{"map without time", map[string]any{"value": 1.0}, Timestamp(uts)},
		{"string time is not a time", map[string]any{"timestamp": "2024-05-01T09:00:00Z"}, Timestamp(uts)},
		{"scalar", 5.0, Timestamp(uts)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpdateTS(u, tt.val); !got.Equal(tt.want) {
				t.Errorf("UpdateTS(%v) = %v, want %v", tt.val, got, tt.want)
			}
		})
	}
}
