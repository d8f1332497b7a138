package model

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestMeasurementOf(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	m := Measurement{Value: 230.5, Quality: QualitySuspect, Timestamp: ts}
	tests := []struct {
		name   string
		v      any
		want   Measurement
		wantOK bool
	}{
		{"struct", m, m, true},
		{"pointer", &m, m, true},
		{"nil pointer", (*Measurement)(nil), Measurement{}, false},
		{"store form", map[string]any{"value": 230.5, "quality": 2.0, "timestamp": ts}, m, true},
		{"JSON form", map[string]any{"value": 230.5, "quality": 2.0, "timestamp": "2024-05-01T10:00:00.123Z"}, m, true},
		{"JSON with offset", map[string]any{"value": 230.5, "quality": 2.0, "timestamp": "2024-05-01T12:00:00.123+02:00"},
			Measurement{Value: 230.5, Quality: QualitySuspect, Timestamp: ts.In(time.FixedZone("", 2*3600))}, true},
		{"int quality", map[string]any{"value": "on", "quality": QualityBad}, Measurement{Value: "on", Quality: QualityBad}, true},
		{"json.Number quality", map[string]any{"value": json.Number("1"), "quality": json.Number("3")},
			Measurement{Value: json.Number("1"), Quality: QualitySubstituted}, true},
		{"no quality is good", map[string]any{"value": 1.0}, Measurement{Value: 1.0, Quality: QualityGood}, true},
		{"string quality is good", map[string]any{"value": 1.0, "quality": "0"}, Measurement{Value: 1.0, Quality: QualityGood}, true},
		{"nil value", map[string]any{"value": nil, "quality": 0.0}, Measurement{Quality: QualityBad}, true},
		{"bad timestamp is zero", map[string]any{"value": 1.0, "timestamp": "yesterday"}, Measurement{Value: 1.0, Quality: QualityGood}, true},
		{"numeric timestamp is zero", map[string]any{"value": 1.0, "timestamp": 1.7e12}, Measurement{Value: 1.0, Quality: QualityGood}, true},
		{"extra keys ignored", map[string]any{"value": 1.0, "unit": "V"}, Measurement{Value: 1.0, Quality: QualityGood}, true},
		{"map without value", map[string]any{"quality": 1.0}, Measurement{}, false},
		{"number", 230.5, Measurement{}, false},
		{"nil", nil, Measurement{}, false},
		{"string", "230.5", Measurement{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MeasurementOf(tt.v)
			if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MeasurementOf(%#v) = %#v, %v; want %#v, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// A measurement survives a JSON round trip through MeasurementOf.
func TestMeasurementOfJSON(t *testing.T) {
	in := Measurement{Value: 12.0, Quality: QualitySubstituted, Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	got, ok := MeasurementOf(v)
	if !ok || !reflect.DeepEqual(got, in) {
		t.Errorf("MeasurementOf(%s) = %#v, %v; want %#v, true", data, got, ok, in)
	}
}

func TestMeasurementOfDoesNotAllocate(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	m := Measurement{Value: 1.0, Quality: QualityGood, Timestamp: ts}
	vals := []any{m, &m, map[string]any{"value": 1.0, "quality": 1.0, "timestamp": ts}}
	allocs := testing.AllocsPerRun(100, func() {
		for _, v := range vals {
			_, _ = MeasurementOf(v)
		}
	})
	if allocs != 0 {
		t.Errorf("MeasurementOf allocates %v times per run, want 0", allocs)
	}
}
