package model

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFloat(t *testing.T) {
	tests := []struct {
		name   string
		v      any
		want   float64
		wantOK bool
	}{
		{"float64", 2.5, 2.5, true},
		{"float32", float32(0.5), 0.5, true},
		{"int", 7, 7, true},
		{"int8", int8(-8), -8, true},
		{"int16", int16(-16), -16, true},
		{"int32", int32(-32), -32, true},
		{"int64", int64(1) << 40, 1 << 40, true},
		{"uint", uint(9), 9, true},
		{"uint8", uint8(255), 255, true},
		{"uint16", uint16(65535), 65535, true},
		{"uint32", uint32(1) << 31, 1 << 31, true},
		{"uint64", uint64(1) << 63, 1 << 63, true},
		{"json.Number", json.Number("3.25"), 3.25, true},
		{"json.Number exponent", json.Number("-1e3"), -1000, true},
		{"bad json.Number", json.Number("abc"), 0, false},
		{"+Inf", math.Inf(1), math.Inf(1), true},
		{"nil", nil, 0, false},
		{"bool true", true, 0, false},
		{"bool false", false, 0, false},
		{"numeric string", "42", 0, false},
		{"empty string", "", 0, false},
		{"map", map[string]any{"value": 1.0}, 0, false},
		{"slice", []any{1.0}, 0, false},
		{"pointer to float", new(float64), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Float(tt.v)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Float(%#v) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFloatNaN(t *testing.T) {
	got, ok := Float(math.NaN())
	if !ok || !math.IsNaN(got) {
		t.Errorf("Float(NaN) = %v, %v; want NaN, true", got, ok)
	}
}

func TestFloatDoesNotAllocate(t *testing.T) {
	vals := []any{1.5, 3, int64(4), uint8(5), json.Number("6.5"), "x", nil}
	allocs := testing.AllocsPerRun(100, func() {
		for _, v := range vals {
			_, _ = Float(v)
		}
	})
	if allocs != 0 {
		t.Errorf("Float allocates %v times per run, want 0", allocs)
	}
}
