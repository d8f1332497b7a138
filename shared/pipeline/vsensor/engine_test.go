package vsensor

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

var t0 = time.Date(2021, 7, 28, 5, 48, 17, 103e6, time.UTC)

// loadSeed decodes the seed's settings (section 3.2.5.1, with the PDF's
// line breaks inside strings removed) strictly, as the agent would.
func loadSeed(t testing.TB) *Engine {
	t.Helper()
	data, err := os.ReadFile("testdata/xflex_virtual_sensors.json")
	if err != nil {
		t.Fatal(err)
	}
	var s Settings
	if err := config.Decode(data, &s); err != nil {
		t.Fatalf("decode seed settings: %v", err)
	}
	e, err := New(&s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// generator is a reading of gridflex_generators.<id>, as the poller makes it.
func generator(id string, ts time.Time, p, q float64) model.Update {
	return model.MeasurementUpdate("gridflex", "generators", id, ts, map[string]model.Measurement{
		"activePower":   {Value: p, Quality: model.QualityGood, Timestamp: ts},
		"reactivePower": {Value: q, Quality: model.QualityGood, Timestamp: ts},
	})
}

// asJSON normalises v through JSON, for comparisons.
func asJSON(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkUpdates(t *testing.T, got []model.Update, want []map[string]any) {
	t.Helper()
	g, w := asJSON(t, got), asJSON(t, want)
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(got, "", "  ")
		wb, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("updates:\ngot  %s\nwant %s", gb, wb)
	}
}

func load01(ts time.Time, p, q float64) map[string]any {
	iso := ts.Format(time.RFC3339Nano)
	return map[string]any{
		"layer": "gridflex", "collection": "loads", "id": "LOAD01", "ts": iso,
		"set": map[string]any{
			"measurements.activePower":   map[string]any{"value": p, "quality": 1, "virtual": true, "timestamp": iso},
			"measurements.reactivePower": map[string]any{"value": q, "quality": 1, "virtual": true, "timestamp": iso},
			"measurementsTimestamp":      iso,
		},
	}
}

func load02(ts time.Time, p float64, mts string) map[string]any {
	iso := ts.Format(time.RFC3339Nano)
	return map[string]any{
		"layer": "gridflex", "collection": "loads", "id": "LOAD02", "ts": iso,
		"set": map[string]any{
			"measurements.activePower": map[string]any{"value": p, "quality": 1, "virtual": true, "timestamp": iso},
			"measurementsTimestamp":    mts,
		},
	}
}

// TestSeedLOAD01 runs the seed's event-driven sensor: recomputed when an
// input updates, only while both generators are fresh within 10 s.
func TestSeedLOAD01(t *testing.T) {
	e := loadSeed(t)
	if got := e.Observe([]model.Update{generator("TSO", t0, 3660.17, 120.5)}, t0); len(got) != 0 {
		t.Fatalf("output with PV1 unknown: %+v", got)
	}
	t1 := t0.Add(2 * time.Second)
	got := e.Observe([]model.Update{generator("PV1", t1, 250, 10)}, t1)
	checkUpdates(t, got, []map[string]any{load01(t1, (3660.17+250)/100, (120.5+10)/100.0)})

	// TSO is now 15 s old: no output
	t2 := t0.Add(15 * time.Second)
	if got := e.Observe([]model.Update{generator("PV1", t2, 260, 11)}, t2); len(got) != 0 {
		t.Errorf("output with a stale input: %+v", got)
	}
	t3 := t0.Add(16 * time.Second)
	got = e.Observe([]model.Update{generator("TSO", t3, 3000, 100)}, t3)
	checkUpdates(t, got, []map[string]any{load01(t3, (3000.0+260)/100, (100+11)/100.0)})

	// unrelated documents and fields trigger nothing
	other := model.MeasurementUpdate("gridflex", "generators", "WIND", t3, map[string]model.Measurement{"activePower": {Value: 1.0}})
	if got := e.Observe([]model.Update{other}, t3); got != nil {
		t.Errorf("output for an unrelated document: %+v", got)
	}
	st := e.Stats()["gridflex_loads.LOAD01"]
	if st.Outputs != 2 || st.Stale != 2 || st.Errors != 0 {
		t.Errorf("stats = %+v, want 2 outputs, 2 stale (PV1 unknown, TSO old), 0 errors", st)
	}
}

// TestSeedLOAD02 runs the seed's poll-mode sensor: computed every 60 s with
// 0.0 for an unknown generator; toISOString of the TSO document's
// measurementsTimestamp.
func TestSeedLOAD02(t *testing.T) {
	e := loadSeed(t)
	// nothing known yet: measurementsTimestamp has no default
	if got := e.Poll(t0); len(got) != 0 {
		t.Fatalf("poll with TSO unknown: %+v", got)
	}
	if st := e.Stats()["gridflex_loads.LOAD02"]; st.Missing != 1 {
		t.Errorf("stats = %+v, want 1 missing", st)
	}
	e.Observe([]model.Update{generator("TSO", t0, 3660.17, 120.5)}, t0)
	// the window (60 s) has not elapsed since the first poll
	if got := e.Poll(t0.Add(30 * time.Second)); len(got) != 0 {
		t.Fatalf("poll before the window elapsed: %+v", got)
	}
	tp := t0.Add(60 * time.Second)
	got := e.Poll(tp)
	checkUpdates(t, got, []map[string]any{load02(tp, 3660.17/100, "2021-07-28T05:48:17.103Z")})

	// inputs are used whatever their age in poll mode
	e.Observe([]model.Update{generator("PV1", t0.Add(61*time.Second), 250, 10)}, t0.Add(61*time.Second))
	tp2 := tp.Add(60 * time.Second)
	got = e.Poll(tp2)
	checkUpdates(t, got, []map[string]any{load02(tp2, (3660.17+250)/100, "2021-07-28T05:48:17.103Z")})
	if due := e.PollDue(); !due.Equal(tp2.Add(60 * time.Second)) {
		t.Errorf("PollDue = %v, want %v", due, tp2.Add(60*time.Second))
	}
}

func TestSpellings(t *testing.T) {
	sensor := `{"id":"L","template":{"v":"{a_b.x>y}"}}`
	for _, tc := range []struct {
		name, doc, wantErr string
	}{
		{"correct spelling", `{"sensors":[{"collection":"a_c","virtualsensors":[` + sensor + `]}]}`, ""},
		{"seed misspelling", `{"sensors":[{"collection":"a_c","virtuaisensors":[` + sensor + `]}]}`, ""},
		{"both", `{"sensors":[{"collection":"a_c","virtualsensors":[` + sensor + `],"virtuaisensors":[` + sensor + `]}]}`, "sensors[0]: virtualsensors and virtuaisensors"},
		{"unknown key", `{"sensors":[{"collection":"a_c","virtualSensors":[` + sensor + `]}]}`, "sensors[0].virtualSensors: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Settings
			err := config.Decode([]byte(tc.doc), &s)
			if err == nil {
				_, err = New(&s)
			}
			if tc.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       Sensor
		coll    string
		wantErr []string
	}{
		{"bad collection", Sensor{ID: "x", Template: map[string]any{"v": "{a_b.x>y}"}}, "loads", []string{`sensors[0].collection: "loads" is not <layer>_<collection>`}},
		{"empty", Sensor{}, "a_b", []string{"virtualsensors[0].id: is empty", "virtualsensors[0].template: is empty"}},
		{"syntax error", Sensor{ID: "x", Template: map[string]any{"v": "{a_b.x>y} +* 2"}}, "a_b", []string{"virtualsensors[0].template.v:", "at position"}},
		{"unknown var", Sensor{ID: "x", Template: map[string]any{"measurements": map[string]any{"p": map[string]any{"value": "{P} * 2"}}}}, "a_b", []string{"template.measurements.p.value: placeholder {P}: no such var"}},
		{"bad ref", Sensor{ID: "x", Template: map[string]any{"v": "{ab.x>y}"}}, "a_b", []string{`collection "ab" is not <layer>_<collection>`}},
		{"cycle", Sensor{ID: "x", Vars: map[string]any{"A": "{B}+1", "B": "{A}+1"}, Template: map[string]any{"v": "{A}"}, Poll: true}, "a_b", []string{"vars: vars A, B depend on each other in a cycle"}},
		{"never computed", Sensor{ID: "x", Template: map[string]any{"v": "{timestamp}"}}, "a_b", []string{"set \"poll\": true"}},
		{"reserved var", Sensor{ID: "x", Vars: map[string]any{"timestamp": 1}, Template: map[string]any{"v": 1}, Poll: true}, "a_b", []string{"vars.timestamp: is reserved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Settings{Sensors: []Group{{Collection: tc.coll, VirtualSensors: []Sensor{tc.s}}}}
			err := s.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			var es config.Errors
			if !errors.As(err, &es) {
				t.Errorf("error %T is not config.Errors", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestVarsOrderAndChaining checks that vars are evaluated in dependency
// order and that a sensor can use the output of an earlier one.
func TestVarsOrderAndChaining(t *testing.T) {
	s := Settings{Sensors: []Group{{Collection: "grid_virtual", VirtualSensors: []Sensor{
		{ID: "A", Vars: map[string]any{"z": "{y} * 2", "y": "{x} + 1", "x": "{grid_meters.M1>measurements.p.value}"},
			Template: map[string]any{"measurements": map[string]any{"p": map[string]any{"value": "{z}", "quality": 1, "timestamp": "{timestamp}"}}}},
		{ID: "B", Template: map[string]any{"label": "'B is ' + {grid_virtual.A>measurements.p.value}", "text": "'A={grid_virtual.A>measurements.p.value}'"}},
	}}}}
	e, err := New(&s)
	if err != nil {
		t.Fatal(err)
	}
	in := model.MeasurementUpdate("grid", "meters", "M1", t0, map[string]model.Measurement{"p": {Value: 4.0, Quality: 1, Timestamp: t0}})
	got := e.Observe([]model.Update{in}, t0)
	iso := t0.Format(time.RFC3339Nano)
	checkUpdates(t, got, []map[string]any{
		{"layer": "grid", "collection": "virtual", "id": "A", "ts": iso,
			"set": map[string]any{"measurements.p": map[string]any{"value": 10, "quality": 1, "timestamp": iso}}},
		{"layer": "grid", "collection": "virtual", "id": "B", "ts": iso,
			"set": map[string]any{"label": "B is 10", "text": "A=10"}},
	})
}

// TestPartialUpdates checks references resolved from updates that set a
// parent or a child of the referenced property.
func TestPartialUpdates(t *testing.T) {
	s := Settings{Sensors: []Group{{Collection: "g_v", VirtualSensors: []Sensor{
		{ID: "S", Template: map[string]any{"v": "{g_d.X>loc.lat} + {g_d.X>loc}.lon"}},
	}}}}
	e, err := New(&s)
	if err != nil {
		t.Fatal(err)
	}
	got := e.Observe([]model.Update{{Layer: "g", Collection: "d", ID: "X", TS: t0, Set: map[string]any{"loc": map[string]any{"lat": 1.0, "lon": 2.0}}}}, t0)
	if len(got) != 1 || got[0].Set["v"] != 3.0 {
		t.Fatalf("got %+v, want v=3", got)
	}
	got = e.Observe([]model.Update{{Layer: "g", Collection: "d", ID: "X", TS: t0, Set: map[string]any{"loc.lon": 5.0}}}, t0)
	if len(got) != 1 || got[0].Set["v"] != 6.0 {
		t.Fatalf("got %+v, want v=6", got)
	}
}

func TestEvalErrorCounted(t *testing.T) {
	s := Settings{Sensors: []Group{{Collection: "g_v", VirtualSensors: []Sensor{
		{ID: "S", Template: map[string]any{"v": "{g_d.X>s}|jsonparse"}},
	}}}}
	e, err := New(&s)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Observe([]model.Update{{Layer: "g", Collection: "d", ID: "X", TS: t0, Set: map[string]any{"s": "{"}}}, t0); len(got) != 0 {
		t.Fatalf("got %+v, want no output", got)
	}
	st := e.Stats()["g_v.S"]
	if st.Errors != 1 || !strings.Contains(st.LastError, "SyntaxError") {
		t.Errorf("stats = %+v, want 1 error with SyntaxError", st)
	}
}
