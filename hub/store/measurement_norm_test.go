package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// NormalizeUpdateValue stores a measurement without walking it as a map
// when its value is a scalar: the result must be what Normalize makes of
// the measurement's map.
func TestNormalizeMeasurementFastPath(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123_456_789, berlin)
	values := []any{230.5, 230, int64(-7), uint16(9), float32(0.5), "on", true, nil, []any{1.0, 2}, map[string]any{"a": 1}}
	for _, v := range values {
		m := model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: ts}
		want, err := Normalize(map[string]any{"value": v, "quality": float64(m.Quality), "timestamp": ts})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []any{m, &m} {
			got, err := NormalizeUpdateValue("measurements.p", in)
			if err != nil {
				t.Fatalf("value %#v: %v", v, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("value %#v (%T): got %#v, want %#v", v, in, got, want)
			}
		}
	}
	if got, err := NormalizeUpdateValue(model.MeasurementsTimestampField, ts); err != nil || got != Timestamp(ts) {
		t.Errorf("measurementsTimestamp as time.Time: got %v, %v; want %v", got, err, Timestamp(ts))
	}
}

// A flat map (a measurement as JSON or the wire format decode it) is
// stored as Normalize stores it.
func TestNormalizeFlatMapFastPath(t *testing.T) {
	maps := []map[string]any{
		{"value": 1.5, "quality": 1.0, "timestamp": "2024-05-01T12:00:00.123456+02:00"},
		{"value": "on", "quality": 0, "timestamp": "noon"},
		{"value": nil, "timestamp": time.Date(2024, 5, 1, 10, 0, 0, 999_999, time.UTC), "unit": "kW", "n": int64(3)},
		{"value": []any{1.0}, "timestamp": "2024-05-01T10:00:00Z"},
		{"value": map[string]any{"$date": "2024-05-01T10:00:00Z"}},
		{"$date": "2024-05-01T10:00:00Z"},
		{},
	}
	for _, path := range []string{"measurements.p", "status"} {
		for _, m := range maps {
			want, err := Normalize(m)
			if err != nil {
				t.Fatal(err)
			}
			if path == "measurements.p" {
				if s, ok := m["timestamp"].(string); ok {
					if ts, ok := DateString("timestamp", s); ok {
						want.(map[string]any)["timestamp"] = ts
					}
				}
			}
			got, err := NormalizeUpdateValue(path, m)
			if err != nil {
				t.Fatalf("%s %v: %v", path, m, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: got %#v, want %#v", path, m, got, want)
			}
		}
	}
}
