package baddata

import (
	"fmt"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

// chain20 is 20 rules that all match measurements.v of grid_meters.M1:
// every detector, most several times, with mixed actions; none fires on
// the benchmark's readings except where stated.
func chain20() []Rule {
	var rules []Rule
	add := func(d Detect, a ...Action) {
		rules = append(rules, Rule{ID: fmt.Sprintf("r%02d", len(rules)), Match: Match{Collections: []string{"grid_*"}, Fields: []string{"v", "w*"}}, Detect: d, Actions: a})
	}
	flag := Action{Type: ActionFlag}
	inc := Action{Type: ActionIncident, Cooldown: config.Duration(time.Hour)}
	for i := range 4 {
		add(Detect{Type: DetectRange, Min: f(float64(-1000 - i)), Max: f(float64(1000 + i))}, flag)
	}
	add(Detect{Type: DetectRange, MaxField: "nominal", MaxFactor: f(1.1)}, Action{Type: ActionReplace, With: ReplaceLast}, inc)
	for i := range 3 {
		add(Detect{Type: DetectRate, MaxDelta: f(float64(500 + i))}, flag)
	}
	add(Detect{Type: DetectRate, MaxRate: f(1000)}, Action{Type: ActionReplace, With: ReplaceInterpolate})
	add(Detect{Type: DetectFlatline, Count: 1000}, inc)
	add(Detect{Type: DetectFlatline, Duration: config.Duration(time.Hour), Tolerance: 0.01}, flag)
	add(Detect{Type: DetectNaN}, Action{Type: ActionDiscard})
	add(Detect{Type: DetectNaN}, inc)
	add(Detect{Type: DetectTimestamp, MaxFuture: config.Duration(time.Minute), MaxPast: config.Duration(time.Hour)}, Action{Type: ActionDiscard})
	add(Detect{Type: DetectDuplicate}, Action{Type: ActionDiscard})
	add(Detect{Type: DetectDuplicate, OutOfOrder: true}, flag)
	add(Detect{Type: DetectStale, After: config.Duration(time.Minute)}, flag)
	add(Detect{Type: DetectExpression, Condition: "value > 900 && previous < 100"}, flag)
	add(Detect{Type: DetectExpression, Condition: "dt > 3600"}, inc)
	add(Detect{Type: DetectRange, Min: f(-5000)}, flag)
	return rules
}

// BenchmarkRuleChain20 processes one reading (one measurement) through 20
// matching rules, with the state updates a real stream causes.
func BenchmarkRuleChain20(b *testing.B) {
	rules := chain20()
	if len(rules) != 20 {
		b.Fatalf("%d rules", len(rules))
	}
	e, err := New(rules, Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Process([]model.Update{{Layer: "grid", Collection: "meters", ID: "M1", TS: t0, Set: map[string]any{"nominal": 230.0}}}, t0)
	in := make([]model.Update, 1024)
	for i := range in {
		ts := t0.Add(time.Duration(i+1) * time.Second)
		in[i] = model.MeasurementUpdate("grid", "meters", "M1", ts, map[string]model.Measurement{"v": {Value: 200 + float64(i%7), Quality: 1, Timestamp: ts}})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := in[i%len(in) : i%len(in)+1]
		if i%len(in) == 0 && i > 0 { // restart time so timestamps keep increasing
			for j := range in {
				ts := in[j].TS.Add(time.Duration(len(in)) * time.Second)
				in[j] = model.MeasurementUpdate("grid", "meters", "M1", ts, map[string]model.Measurement{"v": {Value: 200 + float64(j%7), Quality: 1, Timestamp: ts}})
			}
		}
		out := e.Process(u, u[0].TS)
		if len(out) != 1 {
			b.Fatalf("reading %d: %d updates: %+v", i, len(out), out)
		}
		i++
	}
	b.StopTimer()
	for id, s := range e.Stats() {
		if s.Detected != 0 {
			b.Fatalf("rule %s fired: %+v", id, s)
		}
	}
}
