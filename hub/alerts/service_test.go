package alerts

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
)

func dur(d time.Duration) config.Duration { return config.Duration(d) }

func is(want ...string) func([]string) bool {
	return func(got []string) bool { return slices.Equal(got, want) }
}

// TestWindowRule: an average over a sliding window fires once (further
// firing readings are de-duplicated), resolves when it clears, is
// suppressed within the cooldown and fires again after it.
func TestWindowRule(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Rules: []Rule{{ID: "hot", Type: "OVERVOLTAGE", Cooldown: dur(time.Minute),
		Description: "average voltage {v} on M1",
		Vars:        map[string]Var{"v": {Ref: "demo_meters.M1>measurements.voltage", Agg: AggAvg, Window: dur(10 * time.Second)}},
		Condition:   "v > 250"}}}
	s, _ := e.start(cfg, "a")
	wait := func(what string, want ...string) {
		t.Helper()
		e.waitFor(what, func() bool { return is(want...)(e.statuses("hot")) })
	}
	e.write("M1", "voltage", 230)
	e.advance(time.Second)
	e.write("M1", "voltage", 290) // avg 260
	wait("fired", StatusOpen)
	e.advance(time.Second)
	e.write("M1", "voltage", 280) // avg 266: still open, no second incident
	e.waitFor("evaluated", func() bool { return s.Stats().Deduplicated > 0 })
	e.advance(time.Second)
	e.write("M1", "voltage", 100) // avg 225
	wait("resolved", StatusResolved)
	inc := e.incidents("hot")[0]
	if inc["type"] != "OVERVOLTAGE" || inc["description"] != "average voltage 260 on M1" {
		t.Errorf("incident %v", inc)
	}
	d := inc["details"].(map[string]any)
	if d["layer"] != "demo" || d["document"] != "M1" || d["field"] != "measurements.voltage" || d["values"].(map[string]any)["v"] != 260.0 {
		t.Errorf("details %v", d)
	}
	if _, ok := inc[FieldResolvedAt].(time.Time); !ok {
		t.Errorf("resolvedAt %v", inc[FieldResolvedAt])
	}
	// within the cooldown: suppressed
	e.advance(time.Second)
	e.write("M1", "voltage", 1000)
	e.waitFor("suppressed", func() bool { return s.Stats().Suppressed > 0 })
	// the window slides past the spike and the cooldown ends: fires on a new high
	e.advance(time.Minute)
	e.write("M1", "voltage", 300)
	wait("fired again", StatusResolved, StatusOpen)
	// the incident is stored before the counters move
	e.waitFor("counted", func() bool { st := s.Stats(); return st.Fired == 2 && st.Resolved == 1 })
	if st := s.Stats(); st.Fired != 2 || st.Resolved != 1 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestConditions: cross-document references, rate of change, count and
// absence (found by the tick, with no reading arriving).
func TestConditions(t *testing.T) {
	tests := []struct {
		name  string
		rule  Rule
		steps func(e *env)
	}{
		{"cross-document", Rule{Condition: "{demo_meters.M1>measurements.voltage} - {demo_meters.M2>measurements.voltage} > 5"},
			func(e *env) {
				e.write("M1", "voltage", 240)
				e.write("M2", "voltage", 238)
				e.advance(time.Second)
				e.write("M2", "voltage", 230)
			}},
		{"rate of change", Rule{Vars: map[string]Var{"r": {Ref: "demo_meters.M1>measurements.power", Agg: AggRate, Window: dur(10 * time.Second)}},
			Condition: "r > 10"},
			func(e *env) {
				for i, v := range []float64{100, 105, 110, 150} {
					if i > 0 {
						e.advance(time.Second)
					}
					e.write("M1", "power", v)
				}
			}},
		{"count in a window", Rule{Vars: map[string]Var{"n": {Ref: "demo_meters.M1>measurements.power", Agg: AggCount, Window: dur(5 * time.Second)}},
			Condition: "n >= 3"},
			func(e *env) {
				for range 3 {
					e.advance(time.Second)
					e.write("M1", "power", 1)
				}
			}},
		{"absence", Rule{Vars: map[string]Var{"age": {Ref: "demo_meters.M1>measurements.power", Agg: AggAge}}, Condition: "age > 30"},
			func(e *env) {
				e.write("M1", "power", 1)
				e.advance(31 * time.Second)
			}},
		{"absence of a document never written", Rule{Vars: map[string]Var{"age": {Ref: "demo_meters.M9>measurements.power", Agg: AggAge}}, Condition: "age > 30"},
			func(e *env) { e.advance(31 * time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := tt.rule
			r.ID = "r"
			s, _ := e.start(Config{Rules: []Rule{r}}, "a")
			e.waitFor("takeover", func() bool { return s.Stats().Takeovers == 1 })
			if got := e.statuses("r"); len(got) != 0 {
				t.Fatalf("fired before the readings: %v", got)
			}
			tt.steps(e)
			e.waitFor("fired", func() bool { return is(StatusOpen)(e.statuses("r")) })
			if st := s.Stats(); st.Errors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestAbsenceResolves: a reading after the silence resolves the incident.
func TestAbsenceResolves(t *testing.T) {
	e := newEnv(t)
	e.write("M1", "power", 1)
	e.start(Config{Rules: []Rule{{ID: "silent", Vars: map[string]Var{"age": {Ref: "demo_meters.M1>measurements.power", Agg: AggAge}},
		Condition: "age > 60"}}}, "a")
	e.advance(61 * time.Second)
	e.waitFor("fired", func() bool { return is(StatusOpen)(e.statuses("silent")) })
	e.write("M1", "power", 2)
	e.waitFor("resolved", func() bool { return is(StatusResolved)(e.statuses("silent")) })
}

// TestWindowsFromHistory: readings written before the service started are
// in its windows (read from the history at takeover), and an open incident
// written by an earlier run is not duplicated.
func TestWindowsFromHistory(t *testing.T) {
	e := newEnv(t)
	for _, v := range []float64{10, 20, 30, 40} {
		e.write("M1", "power", v)
		e.advance(time.Second)
	}
	cfg := Config{Rules: []Rule{{ID: "busy",
		Vars:      map[string]Var{"n": {Ref: "demo_meters.M1>measurements.power", Agg: AggCount, Window: dur(time.Minute)}, "hi": {Ref: "demo_meters.M1>measurements.power", Agg: AggMax, Window: dur(time.Minute)}},
		Condition: "n == 4 && hi == 40"}}}
	_, stop := e.start(cfg, "a")
	e.waitFor("fired from history", func() bool { return is(StatusOpen)(e.statuses("busy")) })
	stop()
	s, _ := e.start(cfg, "b")
	e.waitFor("takeover", func() bool { return s.Stats().Takeovers == 1 && s.Stats().Deduplicated > 0 })
	if got := e.statuses("busy"); !is(StatusOpen)(got) {
		t.Errorf("incidents after a restart: %v", got)
	}
}

// TestTwoHubsOneActs: with two services, one holds the lease and each
// firing makes one incident.
func TestTwoHubsOneActs(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Rules: []Rule{{ID: "x", Condition: "{demo_meters.M1>measurements.power} > 100"}}}
	a, _ := e.start(cfg, "a")
	b, _ := e.start(cfg, "b")
	for i := range 5 {
		e.advance(time.Second)
		e.write("M1", "power", 200)
		e.waitFor("open", func() bool { return len(e.statuses("x")) == i+1 })
		e.advance(time.Second)
		e.write("M1", "power", 0)
		e.waitFor("resolved", func() bool { return e.statuses("x")[i] == StatusResolved })
	}
	e.waitFor("counted", func() bool { return a.Stats().Fired+b.Stats().Fired >= 5 })
	if n := len(e.incidents("x")); n != 5 {
		t.Errorf("%d incidents, want 5", n)
	}
	if fa, fb := a.Stats().Fired, b.Stats().Fired; fa+fb != 5 || (fa != 0 && fb != 0) {
		t.Errorf("fired a=%d b=%d, want 5 by one hub", fa, fb)
	}
}

// TestBadDataAtHub: the edge's bad-data rules run on what reaches the
// store and raise incidents (once per reading).
func TestBadDataAtHub(t *testing.T) {
	e := newEnv(t)
	hi := 250.0
	s, _ := e.start(Config{BadData: []baddata.Rule{{ID: "range", Match: baddata.Match{Collections: []string{"demo_meters"}, Fields: []string{"voltage"}},
		Detect:  baddata.Detect{Type: baddata.DetectRange, Max: &hi},
		Actions: []baddata.Action{{Type: baddata.ActionIncident, IncidentType: "OVERVOLTAGE"}}}}}, "a")
	e.write("M1", "voltage", 230)
	e.advance(time.Second)
	e.write("M1", "voltage", 287)
	e.waitFor("incident", func() bool { return len(e.incidents("range")) == 1 })
	inc := e.incidents("range")[0]
	d := inc["details"].(map[string]any)
	if inc["type"] != "OVERVOLTAGE" || d["document"] != "M1" || d["value"] != 287.0 || d["detector"] != "range" {
		t.Errorf("incident %v", inc)
	}
	e.waitFor("counted", func() bool { return s.Stats().BadData == 1 })
}

// TestConfig: bad rules are refused with the path of every problem.
func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"good", Config{Enabled: true, Rules: []Rule{{ID: "a", Condition: "{x_y.z>measurements.v} > 1"}}}, nil},
		{"rules", Config{Enabled: true, Rules: []Rule{
			{ID: "a", Condition: "v > 1 && w", Vars: map[string]Var{"v": {Ref: "x_y.z>p", Agg: "median"}}},
			{ID: "a", Condition: "v >", Vars: map[string]Var{"v": {Ref: "nolayer.z>p", Agg: AggAvg}}},
			{ID: "b", Condition: "v > 1", Vars: map[string]Var{"v": {Ref: "x_y.z>p", Agg: AggAvg}}},
			{ID: "c", Condition: "{x_y>p} > 1"},
			{Condition: "1 > 0"},
		}}, []string{
			`x.rules[0].vars.v: agg "median" is not one of last, avg`,
			`x.rules[0].condition: uses "w", which is neither a var of the rule`,
			`x.rules[1].id: rule "a" is listed twice`,
			`x.rules[1].vars.v: reference "nolayer.z>p": "nolayer" is not <layer>_<collection>`,
			`x.rules[1].condition:`,
			`x.rules[2].vars.v: agg avg needs a window`,
			`x.rules[3].condition: reference "x_y>p" has no document id`,
			`x.rules[4].id: is required`, `x.rules[4].condition: reads no input`}},
		{"bad data at the hub", Config{Enabled: true, BadData: []baddata.Rule{{ID: "r", Detect: baddata.Detect{Type: "nan"},
			Actions: []baddata.Action{{Type: "discard"}}}}}, []string{`x.badData[0].actions[0]: "discard": at the hub a bad-data rule only raises incidents`}},
		{"lease", Config{Enabled: true, Tick: dur(time.Minute), Lease: dur(time.Second)}, []string{"x.lease: (1s) must be longer than tick (1m0s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Defaults()
			var es config.Errors
			c.Validate("x", &es)
			got := fmt.Sprint(es.Err())
			if len(tt.want) == 0 && es.Err() != nil {
				t.Fatalf("got %s, want no error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %s\nwant it to contain %q", got, w)
				}
			}
		})
	}
}
