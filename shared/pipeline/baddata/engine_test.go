package baddata

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func f(v float64) *float64 { return &v }

// sample is one reading of grid_meters.M1 measurements.v.
type sample struct {
	v   float64
	ts  float64 // seconds after t0
	now float64 // arrival, seconds after t0 (default ts)
}

func (s sample) at() time.Time { return t0.Add(time.Duration(s.ts * float64(time.Second))) }

func (s sample) arrival() time.Time {
	if s.now == 0 {
		return s.at()
	}
	return t0.Add(time.Duration(s.now * float64(time.Second)))
}

func (s sample) update() model.Update {
	return model.MeasurementUpdate("grid", "meters", "M1", s.at(), map[string]model.Measurement{
		"v": {Value: s.v, Quality: model.QualityGood, Timestamp: s.at()},
	})
}

// measurement returns measurements.v of u, if u sets it.
func measurement(u model.Update) (model.Measurement, bool) {
	m, ok := u.Set["measurements.v"].(model.Measurement)
	return m, ok
}

type detectorCase struct {
	name   string
	detect Detect
	setup  []model.Update // non-measurement updates first (nominal values)
	good   []sample       // accepted
	bad    sample         // detected
	next   sample         // accepted again
}

var detectorCases = []detectorCase{
	{name: "range max", detect: Detect{Type: DetectRange, Min: f(0), Max: f(100)},
		good: []sample{{v: 10}, {v: 20, ts: 1}}, bad: sample{v: 150, ts: 2}, next: sample{v: 40, ts: 3}},
	{name: "range min", detect: Detect{Type: DetectRange, Min: f(0)},
		good: []sample{{v: 10}, {v: 20, ts: 1}}, bad: sample{v: -5, ts: 2}, next: sample{v: 40, ts: 3}},
	{name: "range from nominal", detect: Detect{Type: DetectRange, MaxField: "nominalVoltage", MaxFactor: f(1.1), MinField: "nominalVoltage", MinFactor: f(0.9)},
		setup: []model.Update{{Layer: "grid", Collection: "meters", ID: "M1", TS: t0, Set: map[string]any{"nominalVoltage": 230.0}}},
		good:  []sample{{v: 230}, {v: 240, ts: 1}}, bad: sample{v: 260, ts: 2}, next: sample{v: 231, ts: 3}},
	{name: "rate delta", detect: Detect{Type: DetectRate, MaxDelta: f(20)},
		good: []sample{{v: 10}, {v: 12, ts: 1}}, bad: sample{v: 100, ts: 2}, next: sample{v: 14, ts: 3}},
	{name: "rate per second", detect: Detect{Type: DetectRate, MaxRate: f(5)},
		good: []sample{{v: 10}, {v: 40, ts: 10}}, bad: sample{v: 60, ts: 11}, next: sample{v: 45, ts: 12}},
	{name: "flatline count", detect: Detect{Type: DetectFlatline, Count: 3},
		good: []sample{{v: 5}, {v: 5, ts: 1}}, bad: sample{v: 5, ts: 2}, next: sample{v: 6, ts: 3}},
	{name: "flatline duration", detect: Detect{Type: DetectFlatline, Duration: config.Duration(10 * time.Second), Tolerance: 0.1},
		good: []sample{{v: 5}, {v: 5.05, ts: 5}}, bad: sample{v: 5.1, ts: 11}, next: sample{v: 6, ts: 12}},
	{name: "nan", detect: Detect{Type: DetectNaN},
		good: []sample{{v: 10}, {v: 20, ts: 1}}, bad: sample{v: math.NaN(), ts: 2}, next: sample{v: 40, ts: 3}},
	{name: "inf", detect: Detect{Type: DetectNaN},
		good: []sample{{v: 10}, {v: 20, ts: 1}}, bad: sample{v: math.Inf(-1), ts: 2}, next: sample{v: 40, ts: 3}},
	{name: "timestamp future", detect: Detect{Type: DetectTimestamp, MaxFuture: config.Duration(time.Minute)},
		good: []sample{{v: 10}, {v: 20, ts: 1}}, bad: sample{v: 30, ts: 3600, now: 2}, next: sample{v: 40, ts: 3}},
	{name: "timestamp past", detect: Detect{Type: DetectTimestamp, MaxPast: config.Duration(time.Hour)},
		good: []sample{{v: 10, ts: 7200}, {v: 20, ts: 7201}}, bad: sample{v: 30, ts: 1, now: 7202}, next: sample{v: 40, ts: 7203}},
	{name: "duplicate", detect: Detect{Type: DetectDuplicate},
		good: []sample{{v: 10}, {v: 20, ts: 1}}, bad: sample{v: 30, ts: 1, now: 2}, next: sample{v: 40, ts: 3}},
	{name: "out of order", detect: Detect{Type: DetectDuplicate, OutOfOrder: true},
		good: []sample{{v: 10}, {v: 20, ts: 5}}, bad: sample{v: 30, ts: 4, now: 6}, next: sample{v: 40, ts: 7}},
	{name: "expression", detect: Detect{Type: DetectExpression, Condition: "value > previous * 2 && field == 'v' && document == 'M1' && collection == 'grid_meters' && dt > 0"},
		good: []sample{{v: 10}, {v: 11, ts: 1}}, bad: sample{v: 30, ts: 2}, next: sample{v: 12, ts: 3}},
}

type actionCase struct {
	name    string
	actions []Action
	// check inspects the output for the bad reading; last is the last good
	// sample; out is Process's output; next is the output of the next reading.
	check func(t *testing.T, c *detectorCase, out, next []model.Update)
}

func wantOneMeasurement(t *testing.T, out []model.Update) model.Measurement {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("got %d updates, want 1: %+v", len(out), out)
	}
	m, ok := measurement(out[0])
	if !ok {
		t.Fatalf("update sets no measurements.v: %+v", out[0])
	}
	return m
}

func sameValue(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

var actionCases = []actionCase{
	{"discard", []Action{{Type: ActionDiscard}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		if len(out) != 0 {
			t.Errorf("got %+v, want the update dropped", out)
		}
	}},
	{"replace constant", []Action{{Type: ActionReplace, With: ReplaceConstant, Value: -1.0}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		m := wantOneMeasurement(t, out)
		if m.Value != -1.0 || m.Quality != model.QualitySubstituted || !m.Timestamp.Equal(c.bad.at()) {
			t.Errorf("got %+v, want -1 substituted at %v", m, c.bad.at())
		}
	}},
	{"replace last", []Action{{Type: ActionReplace, With: ReplaceLast}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		m := wantOneMeasurement(t, out)
		if want := c.good[len(c.good)-1].v; m.Value != want || m.Quality != model.QualitySubstituted {
			t.Errorf("got %+v, want %v substituted", m, want)
		}
	}},
	{"replace hold", []Action{{Type: ActionReplace, With: ReplaceHold}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		m := wantOneMeasurement(t, out)
		if want := c.good[len(c.good)-1].v; m.Value != want || m.Quality != model.QualitySubstituted {
			t.Errorf("got %+v, want %v substituted", m, want)
		}
	}},
	{"replace interpolate", []Action{{Type: ActionReplace, With: ReplaceInterpolate}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		if len(out) != 0 {
			t.Errorf("bad reading not withheld: %+v", out)
		}
		if len(next) != 2 {
			t.Fatalf("next reading gave %d updates, want backfill + reading: %+v", len(next), next)
		}
		bf, ok := measurement(next[0])
		if !ok || len(next[0].Set) != 1 {
			t.Fatalf("backfill %+v, want only measurements.v", next[0])
		}
		last := c.good[len(c.good)-1]
		want := last.v + (c.next.v-last.v)*(c.bad.ts-last.ts)/(c.next.ts-last.ts)
		if got := bf.Value.(float64); math.Abs(got-want) > 1e-9 || bf.Quality != model.QualitySubstituted || !bf.Timestamp.Equal(c.bad.at()) {
			t.Errorf("backfill %+v, want %v substituted at %v", bf, want, c.bad.at())
		}
		if m, _ := measurement(next[1]); m.Value != c.next.v || m.Quality != model.QualityGood {
			t.Errorf("next reading %+v, want %v good", m, c.next.v)
		}
	}},
	{"flag", []Action{{Type: ActionFlag}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		m := wantOneMeasurement(t, out)
		if !sameValue(m.Value.(float64), c.bad.v) || m.Quality != model.QualitySuspect {
			t.Errorf("got %+v, want %v suspect", m, c.bad.v)
		}
	}},
	{"flag quality", []Action{{Type: ActionFlag, Quality: new(int)}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		if m := wantOneMeasurement(t, out); m.Quality != model.QualityBad {
			t.Errorf("got %+v, want quality 0", m)
		}
	}},
	{"incident", []Action{{Type: ActionIncident, IncidentType: "METER_FAULT"}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		if len(out) != 2 {
			t.Fatalf("got %d updates, want reading + incident: %+v", len(out), out)
		}
		if m, _ := measurement(out[0]); !sameValue(m.Value.(float64), c.bad.v) || m.Quality != model.QualityGood {
			t.Errorf("reading changed: %+v", m)
		}
		checkIncident(t, out[1], "METER_FAULT", c.detect.Type)
	}},
	{"replace last + incident", []Action{{Type: ActionReplace, With: ReplaceLast}, {Type: ActionIncident}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		if len(out) != 2 {
			t.Fatalf("got %d updates, want reading + incident: %+v", len(out), out)
		}
		if m, _ := measurement(out[0]); m.Value != c.good[len(c.good)-1].v || m.Quality != model.QualitySubstituted {
			t.Errorf("reading %+v, want last good substituted", m)
		}
		checkIncident(t, out[1], DefaultIncidentType, c.detect.Type)
	}},
	{"discard + incident", []Action{{Type: ActionDiscard}, {Type: ActionIncident}}, func(t *testing.T, c *detectorCase, out, next []model.Update) {
		if len(out) != 1 {
			t.Fatalf("got %d updates, want the incident only: %+v", len(out), out)
		}
		checkIncident(t, out[0], DefaultIncidentType, c.detect.Type)
	}},
}

func checkIncident(t *testing.T, u model.Update, typ, detector string) {
	t.Helper()
	if u.Layer != IncidentLayer || u.Collection != IncidentCollection || u.ID == "" {
		t.Errorf("incident in %s_%s id %q, want incidents_items", u.Layer, u.Collection, u.ID)
	}
	if u.Set["type"] != typ {
		t.Errorf("incident type %v, want %s", u.Set["type"], typ)
	}
	d, _ := u.Set["details"].(map[string]any)
	if d["document"] != "M1" || d["field"] != "v" || d["detector"] != detector || d["rule"] != "r" {
		t.Errorf("incident details %+v", d)
	}
	if desc, _ := u.Set["description"].(string); !strings.Contains(desc, "grid_meters.M1 v") {
		t.Errorf("incident description %q", desc)
	}
	if _, err := json.Marshal(u); err != nil {
		t.Errorf("incident does not encode: %v", err)
	}
	if err := u.Validate(); err != nil {
		t.Errorf("incident invalid: %v", err)
	}
}

// TestDetectorsTimesActions runs every detector with every action.
func TestDetectorsTimesActions(t *testing.T) {
	for i := range detectorCases {
		c := &detectorCases[i]
		for _, a := range actionCases {
			t.Run(c.name+"/"+a.name, func(t *testing.T) {
				e, err := New([]Rule{{ID: "r", Match: Match{Collections: []string{"grid_*"}, Fields: []string{"v"}}, Detect: c.detect, Actions: a.actions}}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if len(c.setup) > 0 {
					e.Process(c.setup, t0)
				}
				for _, s := range c.good {
					in := []model.Update{s.update()}
					out := e.Process(in, s.arrival())
					if !reflect.DeepEqual(out, in) {
						t.Fatalf("good reading %v changed: %+v", s.v, out)
					}
				}
				out := e.Process([]model.Update{c.bad.update()}, c.bad.arrival())
				next := e.Process([]model.Update{c.next.update()}, c.next.arrival())
				a.check(t, c, out, next)
				if a.name != "replace interpolate" && !reflect.DeepEqual(next, []model.Update{c.next.update()}) {
					t.Errorf("next reading changed: %+v", next)
				}
				st := e.Stats()["r"]
				if st.Detected != 1 || st.Evaluated != uint64(len(c.good)+2) {
					t.Errorf("stats %+v, want 1 detected of %d evaluated", st, len(c.good)+2)
				}
			})
		}
	}
}

// TestStale checks the stale detector (driven by Tick) with its actions.
func TestStale(t *testing.T) {
	after := config.Duration(10 * time.Second)
	for _, tc := range []struct {
		name    string
		actions []Action
		want    func(t *testing.T, out []model.Update)
	}{
		{"flag", []Action{{Type: ActionFlag}}, func(t *testing.T, out []model.Update) {
			if m := wantOneMeasurement(t, out); m.Value != 20.0 || m.Quality != model.QualitySuspect {
				t.Errorf("got %+v, want 20 suspect", m)
			}
		}},
		{"replace constant", []Action{{Type: ActionReplace, With: ReplaceConstant, Value: 0.0}}, func(t *testing.T, out []model.Update) {
			if m := wantOneMeasurement(t, out); m.Value != 0.0 || m.Quality != model.QualitySubstituted {
				t.Errorf("got %+v, want 0 substituted", m)
			}
		}},
		{"replace hold", []Action{{Type: ActionReplace, With: ReplaceHold}}, func(t *testing.T, out []model.Update) {
			if m := wantOneMeasurement(t, out); m.Value != 20.0 || m.Quality != model.QualitySubstituted {
				t.Errorf("got %+v, want 20 substituted", m)
			}
		}},
		{"incident", []Action{{Type: ActionIncident, IncidentType: "SILENT_METER"}}, func(t *testing.T, out []model.Update) {
			if len(out) != 1 {
				t.Fatalf("got %+v, want one incident", out)
			}
			checkIncident(t, out[0], "SILENT_METER", DetectStale)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New([]Rule{{ID: "r", Detect: Detect{Type: DetectStale, After: after}, Actions: tc.actions}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if out := e.Tick(t0.Add(time.Hour)); len(out) != 0 {
				t.Errorf("tick before any reading: %+v", out)
			}
			e.Process([]model.Update{sample{v: 10}.update()}, t0)
			e.Process([]model.Update{sample{v: 20, ts: 1}.update()}, t0.Add(time.Second))
			if out := e.Tick(t0.Add(11 * time.Second)); len(out) != 0 {
				t.Errorf("tick within the window: %+v", out)
			}
			tc.want(t, e.Tick(t0.Add(12*time.Second)))
			if out := e.Tick(t0.Add(20 * time.Second)); len(out) != 0 {
				t.Errorf("stale reported twice: %+v", out)
			}
			e.Process([]model.Update{sample{v: 30, ts: 21}.update()}, t0.Add(21*time.Second))
			if out := e.Tick(t0.Add(40 * time.Second)); len(out) == 0 {
				t.Errorf("second silence not reported")
			}
			if st := e.Stats()["r"]; st.Detected != 2 {
				t.Errorf("stats %+v, want 2 detections", st)
			}
		})
	}
}

// TestHoldVersusLast shows the difference: hold repeats the last value
// emitted (a flagged one here), last the last good one.
func TestHoldVersusLast(t *testing.T) {
	for with, want := range map[string]float64{ReplaceHold: 150, ReplaceLast: 50} {
		e, err := New([]Rule{
			{ID: "suspect", Detect: Detect{Type: DetectRange, Max: f(100)}, Actions: []Action{{Type: ActionFlag}}},
			{ID: "impossible", Detect: Detect{Type: DetectRange, Max: f(1000)}, Actions: []Action{{Type: ActionReplace, With: with}}},
		}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		e.Process([]model.Update{sample{v: 50}.update()}, t0)
		e.Process([]model.Update{sample{v: 150, ts: 1}.update()}, t0)
		out := e.Process([]model.Update{sample{v: 2000, ts: 2}.update()}, t0)
		if m := wantOneMeasurement(t, out); m.Value != want || m.Quality != model.QualitySubstituted {
			t.Errorf("%s: got %+v, want %v substituted", with, m, want)
		}
	}
}

// TestRateLevelShift: a spike is flagged, its return accepted; a step
// change is flagged once, then accepted.
func TestRateLevelShift(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Detect: Detect{Type: DetectRate, MaxDelta: f(20)}, Actions: []Action{{Type: ActionFlag}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i, v := range []float64{10, 100, 12, 200, 205, 210} {
		out := e.Process([]model.Update{sample{v: v, ts: float64(i)}.update()}, t0)
		m, _ := measurement(out[0])
		got = append(got, m.Quality)
	}
	if want := []int{1, 2, 1, 2, 1, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("qualities %v, want %v", got, want)
	}
}

func TestIncidentCooldown(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Detect: Detect{Type: DetectRange, Max: f(100)},
		Actions: []Action{{Type: ActionIncident, Cooldown: config.Duration(time.Minute), Description: "{document} {field}={value}: {reason}"}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range 5 {
		for _, u := range e.Process([]model.Update{sample{v: 500, ts: float64(i * 20)}.update()}, t0.Add(time.Duration(i)*20*time.Second)) {
			if u.Layer == IncidentLayer {
				n++
				if d := u.Set["description"]; d != "M1 v=500: 500 is above the maximum 100" {
					t.Errorf("description %q", d)
				}
			}
		}
	}
	st := e.Stats()["r"]
	if n != 2 || st.Incidents != 2 || st.Suppressed != 3 {
		t.Errorf("%d incidents, stats %+v; want 2 raised (t=0, t=60s), 3 suppressed", n, st)
	}
}

func TestInterpolateSeveralAndExpire(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Detect: Detect{Type: DetectRange, Max: f(100)},
		Actions: []Action{{Type: ActionReplace, With: ReplaceInterpolate, MaxGap: config.Duration(time.Minute)}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Process([]model.Update{sample{v: 0}.update()}, t0)
	e.Process([]model.Update{sample{v: 500, ts: 1}.update()}, t0)
	e.Process([]model.Update{sample{v: 500, ts: 2}.update()}, t0)
	out := e.Process([]model.Update{sample{v: 30, ts: 3}.update()}, t0)
	var vals []float64
	for _, u := range out {
		m, _ := measurement(u)
		vals = append(vals, m.Value.(float64))
	}
	if want := []float64{10, 20, 30}; !reflect.DeepEqual(vals, want) {
		t.Errorf("values %v, want %v", vals, want)
	}
	e.Process([]model.Update{sample{v: 500, ts: 4}.update()}, t0)
	if out := e.Tick(t0.Add(2 * time.Minute)); len(out) != 0 {
		t.Errorf("tick emitted %+v", out)
	}
	out = e.Process([]model.Update{sample{v: 40, ts: 200}.update()}, t0.Add(200*time.Second))
	if len(out) != 1 {
		t.Errorf("expired reading was backfilled: %+v", out)
	}
	if st := e.Stats()["r"]; st.Withheld != 3 || st.Interpolated != 2 || st.Expired != 1 {
		t.Errorf("stats %+v, want 3 withheld, 2 interpolated, 1 expired", st)
	}
}

func TestMultipleFieldsAndInputUntouched(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Match: Match{Fields: []string{"a"}}, Detect: Detect{Type: DetectRange, Max: f(1)}, Actions: []Action{{Type: ActionDiscard}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := []model.Update{model.MeasurementUpdate("g", "c", "d", t0, map[string]model.Measurement{"a": {Value: 5.0, Quality: 1}, "b": {Value: 5.0, Quality: 1}})}
	out := e.Process(in, t0)
	if len(out) != 1 || len(out[0].Set) != 2 || out[0].Set["measurements.b"] == nil || out[0].Set["measurements.a"] != nil {
		t.Errorf("got %+v, want a discarded, b and measurementsTimestamp kept", out)
	}
	if len(in[0].Set) != 3 {
		t.Errorf("input modified: %+v", in[0].Set)
	}
	// all measurements discarded: the update goes
	in = []model.Update{model.MeasurementUpdate("g", "c", "d", t0, map[string]model.Measurement{"a": {Value: 5.0, Quality: 1}})}
	if out := e.Process(in, t0); len(out) != 0 {
		t.Errorf("got %+v, want nothing", out)
	}
	// map-shaped measurements (virtual sensors, JSON) are handled too
	in = []model.Update{{Layer: "g", Collection: "c", ID: "d", TS: t0, Set: map[string]any{"measurements.a": map[string]any{"value": 7.0, "quality": 1, "virtual": true}, "x": 1}}}
	if out := e.Process(in, t0); len(out) != 1 || len(out[0].Set) != 1 || out[0].Set["x"] != 1 {
		t.Errorf("got %+v, want x only", out)
	}
}

func TestFieldOption(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Detect: Detect{Type: DetectRange, MaxField: "nominal", MaxFactor: f(2)}, Actions: []Action{{Type: ActionFlag}}}},
		Options{Field: func(layer, collection, id, field string) (any, bool) {
			return 10, layer == "grid" && collection == "meters" && id == "M1" && field == "nominal"
		}})
	if err != nil {
		t.Fatal(err)
	}
	if m := wantOneMeasurement(t, e.Process([]model.Update{sample{v: 25}.update()}, t0)); m.Quality != model.QualitySuspect {
		t.Errorf("got %+v, want suspect (limit 2×10)", m)
	}
}

func TestValidateAndReload(t *testing.T) {
	good := []Rule{{ID: "max", Detect: Detect{Type: DetectRange, Max: f(100)}, Actions: []Action{{Type: ActionFlag}}}}
	e, err := New(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Process([]model.Update{sample{v: 500}.update()}, t0)

	bad := []Rule{
		{ID: "max", Detect: Detect{Type: DetectRange, Max: f(10)}, Actions: []Action{{Type: ActionDiscard}}},
		{ID: "broken", Detect: Detect{Type: DetectExpression, Condition: "value > (1"}, Actions: []Action{{Type: ActionFlag}}},
	}
	err = e.Reload(bad)
	if err == nil || !strings.Contains(err.Error(), "rules[1] (id broken).detect.condition: expression:") || !strings.Contains(err.Error(), "at position") {
		t.Fatalf("Reload error = %v, want it to name rules[1] (id broken) and the position", err)
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Errorf("error %T does not wrap config.Errors", err)
	}
	// the old rule still runs: 50 passes, 500 is flagged (not discarded)
	if m := wantOneMeasurement(t, e.Process([]model.Update{sample{v: 500, ts: 1}.update()}, t0)); m.Quality != model.QualitySuspect {
		t.Errorf("old rule not in force: %+v", m)
	}
	if st := e.Stats()["max"]; st.Flagged != 2 {
		t.Errorf("stats %+v, want 2 flagged", st)
	}
	// a good reload swaps, keeping the counters of rule ids that remain
	if err := e.Reload(bad[:1]); err != nil {
		t.Fatal(err)
	}
	if out := e.Process([]model.Update{sample{v: 50, ts: 2}.update()}, t0); len(out) != 0 {
		t.Errorf("new rule not in force: %+v", out)
	}
	if st := e.Stats()["max"]; st.Flagged != 2 || st.Discarded != 1 || st.Evaluated != 3 {
		t.Errorf("stats %+v, want counters kept across the reload", st)
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		want string
	}{
		{"no id", Rule{Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionFlag}}}, "rules[0].id: is empty"},
		{"unknown detector", Rule{ID: "x", Detect: Detect{Type: "spike"}, Actions: []Action{{Type: ActionFlag}}}, `rules[0] (id x).detect.type: unknown detector "spike"`},
		{"field of another detector", Rule{ID: "x", Detect: Detect{Type: DetectNaN, Max: f(1)}, Actions: []Action{{Type: ActionFlag}}}, `detect.max: does not apply to detector "nan"`},
		{"range without limits", Rule{ID: "x", Detect: Detect{Type: DetectRange}, Actions: []Action{{Type: ActionFlag}}}, "range needs"},
		{"min above max", Rule{ID: "x", Detect: Detect{Type: DetectRange, Min: f(2), Max: f(1)}, Actions: []Action{{Type: ActionFlag}}}, "min (2) is above max (1)"},
		{"unknown variable", Rule{ID: "x", Detect: Detect{Type: DetectExpression, Condition: "valeu > 1"}, Actions: []Action{{Type: ActionFlag}}}, `uses unknown variable "valeu"`},
		{"unknown transform", Rule{ID: "x", Detect: Detect{Type: DetectExpression, Condition: "value|nope"}, Actions: []Action{{Type: ActionFlag}}}, "unknown transform"},
		{"no actions", Rule{ID: "x", Detect: Detect{Type: DetectNaN}}, "actions: needs at least one action"},
		{"exclusive actions", Rule{ID: "x", Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionFlag}, {Type: ActionDiscard}}}, "exclude each other"},
		{"bad replacement", Rule{ID: "x", Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionReplace, With: "mean"}}}, `actions[0].with: want constant, last, hold or interpolate, got "mean"`},
		{"constant without value", Rule{ID: "x", Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionReplace, With: ReplaceConstant}}}, "actions[0].value: is required"},
		{"stale discard", Rule{ID: "x", Detect: Detect{Type: DetectStale, After: config.Duration(time.Second)}, Actions: []Action{{Type: ActionDiscard}}}, "discard does not apply to stale"},
		{"misplaced option", Rule{ID: "x", Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionDiscard, Cooldown: 1}}}, "actions[0].cooldown: applies to incident only"},
		{"bad glob", Rule{ID: "x", Match: Match{Fields: []string{"["}}, Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionFlag}}}, "match.fields[0]: bad pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]Rule{tc.rule})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if err := Validate([]Rule{{ID: "a", Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionFlag}}}, {ID: "a", Detect: Detect{Type: DetectNaN}, Actions: []Action{{Type: ActionFlag}}}}); err == nil || !strings.Contains(err.Error(), `rules[1] (id a).id: "a" is also the id of rules[0]`) {
		t.Errorf("duplicate ids: %v", err)
	}
}

// TestStrictDecode decodes rules as the agent config does.
func TestStrictDecode(t *testing.T) {
	var c struct {
		Rules []Rule `json:"rules"`
	}
	doc := `{"rules":[{"id":"v","match":{"collections":["gridflex_meters"],"fields":["voltage*"]},
	  "detect":{"type":"range","maxField":"nominalVoltage","maxFactor":1.1},
	  "actions":[{"type":"replace","with":"last"},{"type":"incident","incidentType":"OVERVOLTAGE","cooldown":"5m"}]}]}`
	if err := config.Decode([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := Validate(c.Rules); err != nil {
		t.Fatal(err)
	}
	if err := config.Decode([]byte(`{"rules":[{"id":"v","detect":{"type":"nan","mx":1}}]}`), &c); err == nil || !strings.Contains(err.Error(), "rules[0].detect.mx: unknown field") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestDisabled(t *testing.T) {
	e, err := New([]Rule{{ID: "r", Disabled: true, Detect: Detect{Type: DetectRange, Max: f(1)}, Actions: []Action{{Type: ActionDiscard}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := []model.Update{sample{v: 5}.update()}
	if out := e.Process(in, t0); !reflect.DeepEqual(out, in) {
		t.Errorf("disabled rule ran: %+v", out)
	}
}
