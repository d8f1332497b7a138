package baddata

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
)

// BenchmarkTypicalReading is issue 5's target as stated: "transforms +
// rules add under 2 µs per reading". One op is ONE reading: one
// measurement, as a Modbus poll produces per variable (an update holding
// measurements.v = {value, quality, timestamp} and measurementsTimestamp),
// goes through the edge's pipeline order:
//
//   - a typical transform: one attribute with an expression
//     ({"object_id":"v","name":"voltage","expression":"v * 0.1 + 3"}), the
//     measurement's quality and timestamp and the update's
//     measurementsTimestamp passed through;
//   - then a 20-rule chain on that field: chain20's realistic mix (range
//     with fixed and nominal-based limits, rate, flatline, nan, timestamp,
//     duplicate, stale, expression conditions; flag, replace, discard and
//     incident actions), none of which fires on these readings.
//
// The document's nominal value (for the range rule's maxField) is sent
// once before, as a device's static configuration is.
func BenchmarkTypicalReading(b *testing.B) {
	var c transform.Config
	if err := config.Decode([]byte(`{"devices":[{"device_id":"M1","attributes":[
		{"object_id":"v","name":"voltage","expression":"v * 0.1 + 3"}]}]}`), &c); err != nil {
		b.Fatal(err)
	}
	tr, err := transform.New(&c)
	if err != nil {
		b.Fatal(err)
	}
	rules := chain20()
	if len(rules) != 20 {
		b.Fatalf("%d rules", len(rules))
	}
	for i := range rules {
		rules[i].Match.Fields = []string{"voltage"}
	}
	e, err := New(rules, Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Process([]model.Update{{Layer: "grid", Collection: "meters", ID: "M1", TS: t0, Set: map[string]any{"nominal": 230.0}}}, t0)
	// a ring of readings, renewed in place with the timer stopped (only the
	// boxed measurement and timestamp are new), so that the garbage the
	// collector sees is the pipeline's own
	ring := make([][]model.Update, 256)
	for i := range ring {
		ring[i] = []model.Update{model.MeasurementUpdate("grid", "meters", "M1", t0, nil)}
	}
	renew := func(base int) {
		for i, r := range ring {
			n := base + i
			ts := t0.Add(time.Duration(n+1) * time.Second)
			r[0].TS = ts
			r[0].Set["measurements.v"] = model.Measurement{Value: 2000 + float64(n%7), Quality: model.QualityGood, Timestamp: ts}
			r[0].Set[model.MeasurementsTimestampField] = ts
		}
	}
	renew(0)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n > 0 && n%len(ring) == 0 { // keep timestamps increasing
			b.StopTimer()
			renew(n)
			b.StartTimer()
		}
		in := ring[n%len(ring)]
		out := e.Process(tr.Process(in), in[0].TS)
		if len(out) != 1 || len(out[0].Set) != 2 {
			b.Fatalf("reading %d: %+v", n, out)
		}
		n++
	}
	b.StopTimer()
	for id, s := range e.Stats() {
		if s.Detected != 0 || s.Evaluated == 0 {
			b.Fatalf("rule %s: %+v", id, s)
		}
	}
}
