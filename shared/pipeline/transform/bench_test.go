package transform

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

// BenchmarkTransform is a whole Modbus device per op (one poll, not one
// reading): 6 variables, two expression attributes, two renamed
// attributes, a static attribute, explicitAttrs true, through the pipeline
// stage. Issue 5's "typical transform" per reading is
// BenchmarkTransformReading (and, with the 20-rule chain,
// baddata.BenchmarkTypicalReading).
func BenchmarkTransform(b *testing.B) {
	var c Config
	if err := config.Decode([]byte(`{"devices":[{"device_id":"M1","explicitAttrs":true,"attributes":[
		{"name":"apparentPower","expression":"(p^2 + q^2)^0.5"},
		{"name":"voltage","expression":"u / 10"},
		{"object_id":"p","name":"activePower"},{"object_id":"q","name":"reactivePower"},{"object_id":"i","name":"current"}],
		"static_attributes":[{"name":"nominalVoltage","value":230}]}]}`), &c); err != nil {
		b.Fatal(err)
	}
	tr, err := New(&c)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	in := []model.Update{model.MeasurementUpdate("grid", "meters", "M1", now, map[string]model.Measurement{
		"p": {Value: 3.0, Quality: 1, Timestamp: now}, "q": {Value: 4.0, Quality: 1, Timestamp: now},
		"u": {Value: 2301.0, Quality: 1, Timestamp: now}, "i": {Value: 5.0, Quality: 1, Timestamp: now},
		"f": {Value: 50.0, Quality: 1, Timestamp: now}, "pf": {Value: 0.9, Quality: 1, Timestamp: now},
	})}
	b.ReportAllocs()
	for b.Loop() {
		if out := tr.Process(in); len(out) != 1 {
			b.Fatal(len(out))
		}
	}
}

// BenchmarkTransformReading is issue 5's "typical transform" for ONE
// reading: one measurement (value, quality, timestamp), as a Modbus poll
// produces per variable, through one attribute with an expression
// ({"object_id":"v","name":"voltage","expression":"v * 0.1 + 3"}); the
// measurement's quality and timestamp and the update's
// measurementsTimestamp pass through. (baddata.BenchmarkTypicalReading
// adds the 20-rule chain.)
func BenchmarkTransformReading(b *testing.B) {
	var c Config
	if err := config.Decode([]byte(`{"devices":[{"device_id":"M1","attributes":[
		{"object_id":"v","name":"voltage","expression":"v * 0.1 + 3"}]}]}`), &c); err != nil {
		b.Fatal(err)
	}
	tr, err := New(&c)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	in := []model.Update{model.MeasurementUpdate("grid", "meters", "M1", now, map[string]model.Measurement{
		"v": {Value: 2301.0, Quality: model.QualityGood, Timestamp: now}})}
	b.ReportAllocs()
	for b.Loop() {
		if out := tr.Process(in); len(out) != 1 || len(out[0].Set) != 2 {
			b.Fatal(out)
		}
	}
}
