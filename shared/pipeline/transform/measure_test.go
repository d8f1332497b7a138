package transform

import (
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// TestReadingOfForms checks that ReadingOf reads a measurement in each of
// the forms an update may carry it (model.MeasurementOf's), and a plain
// value as a measure of default quality and time.
func TestReadingOfForms(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	read := ts.Add(-time.Second)
	tests := []struct {
		name        string
		v           any
		wantValue   any
		wantQuality map[string]int
		wantTS      map[string]time.Time
	}{
		{"struct", model.Measurement{Value: 1.5, Quality: model.QualitySuspect, Timestamp: read}, 1.5,
			map[string]int{"p": model.QualitySuspect}, map[string]time.Time{"p": read}},
		{"pointer", &model.Measurement{Value: 2.5, Quality: model.QualityGood}, 2.5,
			map[string]int{"p": model.QualityGood}, map[string]time.Time{}},
		{"store map", map[string]any{"value": 3.5, "quality": 0.0, "timestamp": read}, 3.5,
			map[string]int{"p": model.QualityBad}, map[string]time.Time{"p": read}},
		{"JSON map", map[string]any{"value": 4.5, "quality": 3.0, "timestamp": read.Format(time.RFC3339Nano)}, 4.5,
			map[string]int{"p": model.QualitySubstituted}, map[string]time.Time{"p": read}},
		{"map without quality", map[string]any{"value": 5.5}, 5.5,
			map[string]int{"p": model.QualityGood}, map[string]time.Time{}},
		{"plain value", 6.5, 6.5, map[string]int{}, map[string]time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := model.Update{Layer: "l", Collection: "c", ID: "d", TS: ts, Set: map[string]any{model.MeasurementsPrefix + "p": tt.v}}
			r := ReadingOf(&u)
			if got := r.Values["p"]; got != tt.wantValue {
				t.Errorf("value: got %v, want %v", got, tt.wantValue)
			}
			if !reflect.DeepEqual(r.Quality, tt.wantQuality) {
				t.Errorf("quality: got %v, want %v", r.Quality, tt.wantQuality)
			}
			if !reflect.DeepEqual(r.Timestamps, tt.wantTS) {
				t.Errorf("timestamps: got %v, want %v", r.Timestamps, tt.wantTS)
			}
		})
	}
}
