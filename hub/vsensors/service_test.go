package vsensors

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func near(a any, b float64) bool {
	f, ok := a.(float64)
	return ok && math.Abs(f-b) < 1e-9
}

// TestSeedExample runs the seed's settings (3.2.5.1) unchanged: LOAD01 in
// event mode, LOAD02 polled with defaults.
func TestSeedExample(t *testing.T) {
	e := newEnv(t)
	s := e.start(Config{SettingsFile: "testdata/seed.json"}, "hub1")

	// LOAD02 polls at start: TSO's measurementsTimestamp, which has no
	// default, is unknown, so the sensor is skipped and its output marked bad
	e.waitFor("LOAD02 marked bad", func() bool {
		m := measurement(e.get("gridflex", "loads", "LOAD02"), "activePower")
		return near(m["quality"], 0) && m["virtual"] == true && m["value"] == nil
	})

	ts := time.Date(2021, 7, 28, 5, 48, 17, 103e6, time.UTC)
	e.put("TSO", ts, map[string]float64{"activePower": 3660.17, "reactivePower": 20})
	// PV1 does not exist: LOAD01 cannot be computed and is marked bad
	e.waitFor("LOAD01 marked bad", func() bool {
		m := measurement(e.get("gridflex", "loads", "LOAD01"), "activePower")
		return near(m["quality"], 0) && m["value"] == nil && near(measurement(e.get("gridflex", "loads", "LOAD01"), "reactivePower")["quality"], 0)
	})
	e.put("PV1", ts.Add(time.Second), map[string]float64{"activePower": 339.83, "reactivePower": 80})
	e.waitFor("LOAD01", func() bool { return measurement(e.get("gridflex", "loads", "LOAD01"), "activePower")["value"] != nil })
	d := e.get("gridflex", "loads", "LOAD01")
	ap, rp := measurement(d, "activePower"), measurement(d, "reactivePower")
	if !near(ap["value"], 40) || !near(rp["value"], 1) || ap["virtual"] != true || rp["virtual"] != true || !near(ap["quality"], 1) {
		t.Fatalf("LOAD01 = %v", d)
	}
	if got := d["measurementsTimestamp"]; got != ts.Add(time.Second) {
		t.Errorf("LOAD01 measurementsTimestamp = %v, want the triggering update's %v", got, ts.Add(time.Second))
	}

	// a new TSO value recomputes LOAD01 from the latest PV1
	e.put("TSO", ts.Add(2*time.Second), map[string]float64{"activePower": 660.17})
	e.waitFor("LOAD01 updated", func() bool {
		return near(measurement(e.get("gridflex", "loads", "LOAD01"), "activePower")["value"], 10)
	})
	// 2 outputs, or 3 when the first TSO event was handled after PV1 was
	// stored (PV1 is then read from the store)
	e.waitFor("the counters", func() bool { st := s.Stats(); return st.Events == 3 && st.Outputs >= 2 })
	if st := s.Stats(); st.Outputs > 3 || st.WriteErrors != 0 || st.MarkedBad != 2 {
		t.Errorf("stats %+v", st)
	}
	m, err := e.nc.Request(StatsSubject(domain), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Instance string
		Stats    Stats
	}
	if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Instance != "hub1" || rep.Stats.Sensors["gridflex_loads.LOAD01"].Outputs < 2 {
		t.Errorf("stats over NATS: %s (%v)", m.Data, err)
	}
}

// TestSeedPollDefaults: LOAD02 with PV1 unknown uses PV1's default 0.0.
func TestSeedPollDefaults(t *testing.T) {
	e := newEnv(t)
	ts := time.Date(2021, 7, 28, 5, 48, 17, 103e6, time.UTC)
	e.put("TSO", ts, map[string]float64{"activePower": 3660.17, "reactivePower": 20})
	e.start(Config{SettingsFile: "testdata/seed.json"}, "hub1")
	e.waitFor("LOAD02", func() bool { return e.get("gridflex", "loads", "LOAD02") != nil })
	d := e.get("gridflex", "loads", "LOAD02")
	ap := measurement(d, "activePower")
	if !near(ap["value"], 36.6017) || !near(ap["quality"], 1) || ap["virtual"] != true {
		t.Errorf("LOAD02 activePower = %v", ap)
	}
	// toISOString(...) gives a string; the store keeps RFC 3339 strings of
	// date fields as dates
	if got, ok := d["measurementsTimestamp"].(time.Time); !ok || !got.Equal(ts) {
		if s, _ := d["measurementsTimestamp"].(string); s != "2021-07-28T05:48:17.103Z" {
			t.Errorf("LOAD02 measurementsTimestamp = %#v, want %v", d["measurementsTimestamp"], ts)
		}
	}
}

// TestPollMissingMarksBad: a poll-mode sensor whose input is unknown and
// has no default marks its output bad once; the other sensors go on.
func TestPollMissingMarksBad(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Tick: 20e6, Lease: 1e9}
	if err := jsonInto(&cfg, `{"settings": {"sensors": [{"collection": "gridflex_loads", "virtualsensors": [
		{"id": "P1", "poll": true, "window": "50ms", "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value} * 2", "quality": 1}}}},
		{"id": "P2", "poll": true, "window": "50ms", "template": {"measurements": {"p": {"value": "{gridflex_generators.G2>measurements.p.value|5} + 1", "quality": 1}}}}
	]}]}}`); err != nil {
		t.Fatal(err)
	}
	s := e.start(cfg, "hub1")
	e.waitFor("P2 from its default", func() bool { return near(measurement(e.get("gridflex", "loads", "P2"), "p")["value"], 6) })
	e.waitFor("P1 marked bad", func() bool { return near(measurement(e.get("gridflex", "loads", "P1"), "p")["quality"], 0) })
	time.Sleep(200 * time.Millisecond) // several polls
	if n := s.Stats().MarkedBad; n != 1 {
		t.Errorf("marked bad %d times, want once until a good output", n)
	}
	e.put("G1", time.Now(), map[string]float64{"p": 4})
	e.waitFor("P1 good", func() bool {
		m := measurement(e.get("gridflex", "loads", "P1"), "p")
		return near(m["value"], 8) && near(m["quality"], 1)
	})
}

// TestEvaluationErrorMarksBad: an event-mode sensor whose expression fails
// marks its output bad; its neighbour is computed.
func TestEvaluationErrorMarksBad(t *testing.T) {
	e := newEnv(t)
	var cfg Config
	if err := jsonInto(&cfg, `{"settings": {"sensors": [{"collection": "gridflex_loads", "virtualsensors": [
		{"id": "E1", "template": {"measurements": {"p": {"value": "({gridflex_generators.G1>measurements.p.value} + 'x') | jsonparse", "quality": 1}}}},
		{"id": "E2", "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value} + 1", "quality": 1}}}}
	]}]}}`); err != nil {
		t.Fatal(err)
	}
	e.start(cfg, "hub1")
	e.put("G1", time.Now(), map[string]float64{"p": 1})
	e.waitFor("E2", func() bool { return near(measurement(e.get("gridflex", "loads", "E2"), "p")["value"], 2) })
	e.waitFor("E1 marked bad", func() bool { return near(measurement(e.get("gridflex", "loads", "E1"), "p")["quality"], 0) })
}

// TestTwoHubsOneActs: two services on one NATS and one store; every
// output is written once, by either.
func TestTwoHubsOneActs(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Tick: 20e6, Lease: 1e9}
	if err := jsonInto(&cfg, `{"settings": {"sensors": [{"collection": "gridflex_loads", "virtualsensors": [
		{"id": "SUM", "window": 3600, "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value} + {gridflex_generators.G2>measurements.p.value}", "quality": 1}}}},
		{"id": "POLL", "poll": true, "window": "100ms", "template": {"n": "{gridflex_generators.G1>measurements.p.value|0}"}}
	]}]}}`); err != nil {
		t.Fatal(err)
	}
	a := e.start(cfg, "hub1")
	b := e.start(cfg, "hub2")
	base := time.Now()
	const n = 40
	for i := 0; i < n; i++ {
		g := []string{"G1", "G2"}[i%2]
		e.put(g, base.Add(time.Duration(i)*time.Millisecond), map[string]float64{"p": float64(i)})
	}
	// the last two puts were G1=38 and G2=39
	e.waitFor("SUM of the latest values", func() bool { return near(measurement(e.get("gridflex", "loads", "SUM"), "p")["value"], 77) })
	time.Sleep(300 * time.Millisecond)
	var sums, polls []string
	for _, w := range e.writes() {
		who, id, _ := strings.Cut(w, ":")
		if id == "SUM" {
			sums = append(sums, who)
		} else {
			polls = append(polls, who)
		}
	}
	// one write per event: an output, or for the first, when G2 was still
	// unknown by the time it was handled, the mark that SUM is bad, or
	// nothing when G2 was stored between the two
	if len(sums) != n && len(sums) != n-1 {
		t.Errorf("SUM written %d times for %d events, want one per event", len(sums), n)
	}
	if !slices.Contains(sums, "hub1") || !slices.Contains(sums, "hub2") {
		t.Logf("events went to one hub only: %v", sums)
	}
	slices.Sort(polls)
	if len(polls) == 0 || polls[0] != polls[len(polls)-1] {
		t.Errorf("poll outputs written by %v, want one hub", slices.Compact(polls))
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Events+sb.Events != n {
		t.Errorf("events handled %d + %d, want %d in all", sa.Events, sb.Events, n)
	}
}
