package baddata

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
)

// pipelineFields are the 11 measurement names the benchmark's transform
// writes (apparentPower is computed from p and q).
var pipelineFields = []string{"voltage", "current", "activePower", "reactivePower", "apparentPower", "cos",
	"f", "pf", "e", "thd", "temp"}

// BenchmarkPipelineReading is issue 5's "transforms + rules per reading"
// figure: one Modbus poll of a meter (10 measurements) goes through the
// edge's pipeline order, transform.Process then Engine.Process with 20
// rules. One op is one reading. "spread" gives each measurement 3 or 4 of
// the 20 rules (a typical configuration: a few rules per field); "all"
// applies all 20 rules to all 11 measurements written (220 assessments, the
// worst case).
func BenchmarkPipelineReading(b *testing.B) {
	var c transform.Config
	if err := config.Decode([]byte(`{"devices":[{"device_id":"M1","attributes":[
		{"name":"apparentPower","expression":"(p^2 + q^2)^0.5"},
		{"object_id":"u","name":"voltage","expression":"u / 10"},
		{"object_id":"p","name":"activePower"},{"object_id":"q","name":"reactivePower"},{"object_id":"i","name":"current"}],
		"static_attributes":[{"name":"nominal","value":230}]}]}`), &c); err != nil {
		b.Fatal(err)
	}
	tr, err := transform.New(&c)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		match func(i int) []string // fields of rule i
	}{
		{"spread", func(i int) []string { return []string{pipelineFields[i%11], pipelineFields[(i+5)%11]} }},
		{"all", func(int) []string { return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rules := chain20()
			for i := range rules {
				rules[i].Match.Fields = bc.match(i)
			}
			e, err := New(rules, Options{})
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			// one poll: raw registers, values that no rule flags (each changes
			// by at least 0.1 per reading, so that flatline does not fire)
			poll := func(n int) []model.Update {
				ts := t0.Add(time.Duration(n+1) * time.Second)
				m := func(v float64) model.Measurement { return model.Measurement{Value: v, Quality: 1, Timestamp: ts} }
				d := float64(n % 7)
				return []model.Update{model.MeasurementUpdate("grid", "meters", "M1", ts, map[string]model.Measurement{
					"u": m(2301 + d), "i": m(5 + d/10), "p": m(120 + d), "q": m(50 + d), "f": m(49.7 + d/10),
					"pf": m(0.3 + d/10), "e": m(200 + d), "thd": m(3.2 + d/10), "temp": m(41 + d/10), "cos": m(0.2 + d/10)})}
			}
			// a small ring, regenerated with the timer stopped: a large one would
			// make the collector mark megabytes of inputs the pipeline no longer holds
			polls := make([][]model.Update, 256)
			for i := range polls {
				polls[i] = poll(i)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if n > 0 && n%len(polls) == 0 { // keep timestamps increasing
					b.StopTimer()
					for i := range polls {
						polls[i] = poll(n + i)
					}
					b.StartTimer()
				}
				out := e.Process(tr.Process(polls[n%len(polls)]), polls[n%len(polls)][0].TS)
				if len(out) != 1 {
					b.Fatalf("reading %d: %d updates: %+v", n, len(out), out)
				}
				n++
			}
			b.StopTimer()
			for id, s := range e.Stats() {
				if s.Detected != 0 || s.Evaluated == 0 {
					b.Fatalf("rule %s: %+v", id, s)
				}
			}
		})
	}
}
