package vsensor

import (
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

func TestDescend(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	m := model.Measurement{Value: 7.5, Quality: model.QualitySuspect, Timestamp: ts}
	doc := map[string]any{
		"measurements": map[string]any{
			"s":   m,
			"ptr": &m,
			"nil": (*model.Measurement)(nil),
			"map": map[string]any{"value": 1.5, "quality": 1.0},
		},
		"arr": []any{10.0, map[string]any{"x": "y"}},
	}
	tests := []struct {
		path   string
		want   any
		wantOK bool
	}{
		{"measurements.s.value", 7.5, true},
		{"measurements.s.quality", float64(model.QualitySuspect), true},
		{"measurements.s.timestamp", ts, true},
		{"measurements.s.unit", nil, true},
		{"measurements.ptr.value", 7.5, true},
		{"measurements.ptr.quality", float64(model.QualitySuspect), true},
		{"measurements.nil.value", nil, false},
		{"measurements.map.value", 1.5, true},
		{"measurements.map.missing", nil, false},
		{"measurements.s.value.deeper", nil, false},
		{"arr.0", 10.0, true},
		{"arr.1.x", "y", true},
		{"arr.2", nil, false},
		{"arr.x", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := descend(doc, tt.path)
			if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("descend(%q) = %#v, %v; want %#v, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
