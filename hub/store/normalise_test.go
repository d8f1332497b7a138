package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

func TestTimestamp(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	in := time.Date(2024, 5, 1, 12, 0, 0, 123_456_789, paris)
	want := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	if got := Timestamp(in); !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond() != want.Nanosecond() {
		t.Errorf("Timestamp(%v) = %v, want %v", in, got, want)
	}
}

func TestNormalize(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	type point struct {
		X int    `json:"x"`
		S string `json:"s"`
	}
	tests := []struct {
		name    string
		in      any
		want    any
		wantErr bool
	}{
		{"scalars", map[string]any{"n": nil, "b": true, "s": "x", "f": 1.5}, map[string]any{"n": nil, "b": true, "s": "x", "f": 1.5}, false},
		{"integers become float64", []any{1, int8(2), int16(3), int32(4), int64(5), uint(6), uint8(7), uint16(8), uint32(9), uint64(10), float32(0.5)},
			[]any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 0.5}, false},
		{"json.Number", json.Number("2.25"), 2.25, false},
		{"bad json.Number", json.Number("x"), nil, true},
		{"time to UTC ms", time.Date(2024, 5, 1, 12, 0, 0, 123_456_000, time.FixedZone("", 7200)), ts, false},
		{"extended JSON date", map[string]any{"t": map[string]any{"$date": "2024-05-01T10:00:00.123Z"}}, map[string]any{"t": ts}, false},
		{"[]map", []map[string]any{{"a": 1}}, []any{map[string]any{"a": 1.0}}, false},
		{"[]string", []string{"a", "b"}, []any{"a", "b"}, false},
		{"[]float64", []float64{1, 2}, []any{1.0, 2.0}, false},
		{"struct through JSON", point{X: 3, S: "p"}, map[string]any{"x": 3.0, "s": "p"}, false},
		{"nested", map[string]any{"a": map[string]any{"b": []any{int64(1), map[string]any{"c": uint8(2)}}}},
			map[string]any{"a": map[string]any{"b": []any{1.0, map[string]any{"c": 2.0}}}}, false},
		{"unencodable", map[string]any{"c": make(chan int)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Normalize(%#v) error = %v, want one wrapping ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%#v): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// Normalize copies: changing its result leaves the input alone.
func TestNormalizeCopies(t *testing.T) {
	in := map[string]any{"a": map[string]any{"b": 1.0}, "l": []any{1.0}}
	out, err := Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	m["a"].(map[string]any)["b"] = 2.0
	m["l"].([]any)[0] = 2.0
	if in["a"].(map[string]any)["b"] != 1.0 || in["l"].([]any)[0] != 1.0 {
		t.Errorf("input changed through the result: %v", in)
	}
}

func TestNormalizeUpdateValue(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	m := model.Measurement{Value: 230, Quality: model.QualitySuspect, Timestamp: ts}
	stored := map[string]any{"value": 230.0, "quality": 2.0, "timestamp": ts}
	tests := []struct {
		name    string
		path    string
		in      any
		want    any
		wantErr bool
	}{
		{"measurement", "measurements.u", m, stored, false},
		{"measurement pointer", "measurements.u", &m, stored, false},
		{"JSON measurement", "measurements.u", map[string]any{"value": 230.0, "quality": 2.0, "timestamp": "2024-05-01T10:00:00.123Z"}, stored, false},
		{"JSON measurement keeps other keys", "measurements.u", map[string]any{"value": 1.0, "unit": "V", "timestamp": "2024-05-01T12:00:00.123+02:00"},
			map[string]any{"value": 1.0, "unit": "V", "timestamp": ts}, false},
		{"bad measurement timestamp stays a string", "measurements.u", map[string]any{"value": 1.0, "timestamp": "noon"},
			map[string]any{"value": 1.0, "timestamp": "noon"}, false},
		{"timestamp outside measurements is date-typed too", "status", map[string]any{"timestamp": "2024-05-01T10:00:00Z"},
			map[string]any{"timestamp": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}, false},
		{"a date-only timestamp stays a string", "status", map[string]any{"timestamp": "2024-05-01"},
			map[string]any{"timestamp": "2024-05-01"}, false},
		{"top-level timestamp", "timestamp", "2024-05-01T12:00:00+02:00", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), false},
		{"a field ending in Timestamp", "meta.lastTimestamp", "2024-05-01T10:00:00Z", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), false},
		{"measurementsTimestamp", model.MeasurementsTimestampField, "2024-05-01T10:00:00.123456Z", ts, false},
		{"other string", "name", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", false},
		{"integer", "count", 3, 3.0, false},
		{"unencodable", "x", make(chan int), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeUpdateValue(tt.path, tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got error %v, want one wrapping ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NormalizeUpdateValue(%q, %#v) = %#v, want %#v", tt.path, tt.in, got, tt.want)
			}
		})
	}
}

func TestPrepareInsert(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 999_999, time.UTC)
	tests := []struct {
		name        string
		doc         Document
		wantID      string
		wantExpired any
		wantErr     bool
	}{
		{"given id", Document{FieldID: "M1", "n": 1}, "M1", false, false},
		{"expired kept", Document{FieldID: "M1", FieldExpired: true}, "M1", true, false},
		{"generated id", Document{"n": 1}, "", false, false},
		{"bad id", Document{FieldID: 5.0}, "", nil, true},
		{"bad value keeps id", Document{FieldID: "M2", "c": make(chan int)}, "M2", nil, true},
		{"internal field", Document{FieldID: "M3", FieldSeq: map[string]any{"e1": 1e15}}, "M3", nil, true},
		{"internal dotted key", Document{FieldID: "M3", FieldSeq + ".e1": 1e15}, "M3", nil, true},
		{"_updated given", Document{FieldID: "M3", FieldUpdated: now}, "M3", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, id, err := PrepareInsert(tt.doc, now)
			if tt.wantErr {
				if err == nil || id != tt.wantID {
					t.Fatalf("got %v, id %q; want an error and id %q", err, id, tt.wantID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantID == "" && len(id) != 24 {
				t.Errorf("generated id %q, want 24 hex digits", id)
			} else if tt.wantID != "" && id != tt.wantID {
				t.Errorf("id = %q, want %q", id, tt.wantID)
			}
			if out[FieldID] != id {
				t.Errorf("_id = %v, want %q", out[FieldID], id)
			}
			if got := out[FieldUpdated]; got != Timestamp(now) {
				t.Errorf("_updated = %v, want %v", got, Timestamp(now))
			}
			if got := out[FieldExpired]; got != tt.wantExpired {
				t.Errorf("_expired = %v, want %v", got, tt.wantExpired)
			}
			if _, had := tt.doc[FieldUpdated]; had {
				t.Errorf("input document changed: %v", tt.doc)
			}
		})
	}
}
