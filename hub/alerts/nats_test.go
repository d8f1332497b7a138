package alerts

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/subject"
)

func (e *env) request(action string, req any) Reply {
	e.t.Helper()
	b, _ := json.Marshal(req)
	m, err := e.nc.Request(subject.Alerts(domain, action), b, 10*time.Second)
	if err != nil {
		e.t.Fatalf("%s: %v", action, err)
	}
	var rep Reply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		e.t.Fatalf("%s: reply %s: %v", action, m.Data, err)
	}
	return rep
}

// TestNATS: list shows the rules with their open incident, status the
// holder's counters, and test evaluates a configured or given rule over
// the current data and the history without creating an incident.
func TestNATS(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Rules: []Rule{
		{ID: "hot", Vars: map[string]Var{"v": {Ref: "demo_meters.M1>measurements.voltage"}}, Condition: "v > 250"},
		{ID: "off", Disabled: true, Condition: "{demo_meters.M1>measurements.voltage} < 0"},
	}}
	s, _ := e.start(cfg, "a")
	r, err := s.Serve(e.connect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	e.write("M1", "voltage", 230)
	e.advance(time.Second)
	e.write("M1", "voltage", 240)
	e.advance(time.Second)
	e.write("M1", "voltage", 290)
	e.waitFor("fired", func() bool { return len(e.incidents("hot")) == 1 })

	rep := e.request(ActionList, nil)
	if rep.Status != "success" {
		t.Fatalf("list: %+v", rep)
	}
	rules := rep.Data.([]any)
	if len(rules) != 2 {
		t.Fatalf("list: %v", rules)
	}
	hot := rules[0].(map[string]any)
	if hot["id"] != "hot" || hot["open"] != e.incidents("hot")[0]["_id"] || hot["lastFired"] == nil {
		t.Errorf("list: hot %v", hot)
	}
	if off := rules[1].(map[string]any); off["disabled"] != true || off["open"] != nil {
		t.Errorf("list: off %v", off)
	}

	e.waitFor("held", func() bool { return s.Status().Holding })
	rep = e.request(ActionStatus, nil)
	if st, _ := rep.Data.(map[string]any); rep.Status != "success" || st["holding"] != true || st["rules"] != 1.0 ||
		st["stats"].(map[string]any)["fired"] != 1.0 || !strings.HasPrefix(st["instance"].(string), "a/") {
		t.Errorf("status: %+v", rep)
	}

	tests := []struct {
		name    string
		req     Request
		firing  bool
		values  map[string]any
		wantErr string
	}{
		{"configured rule", Request{ID: "hot"}, true, map[string]any{"v": 290.0}, ""},
		{"average over the history", Request{Rule: &Rule{
			Vars:      map[string]Var{"v": {Ref: "demo_meters.M1>measurements.voltage", Agg: AggAvg, Window: dur(time.Minute)}},
			Condition: "v > 250"}}, true, map[string]any{"v": (230.0 + 240 + 290) / 3}, ""},
		{"min over the history", Request{Rule: &Rule{
			Vars:      map[string]Var{"v": {Ref: "demo_meters.M1>measurements.voltage", Agg: AggMin, Window: dur(time.Minute)}},
			Condition: "v > 235"}}, false, map[string]any{"v": 230.0}, ""},
		{"missing input", Request{Rule: &Rule{Condition: "{demo_meters.M9>measurements.voltage} > 1"}}, false,
			map[string]any{"demo_meters.M9>measurements.voltage": nil}, ""},
		{"unknown rule", Request{ID: "nope"}, false, nil, `no rule "nope"`},
		{"bad rule", Request{Rule: &Rule{Condition: "x > 1"}}, false, nil, `uses "x", which is neither a var`},
		{"bad window", Request{Rule: &Rule{Vars: map[string]Var{"v": {Ref: "demo_meters.M1>measurements.voltage", Agg: AggAvg}},
			Condition: "v > 1"}}, false, nil, "agg avg needs a window"},
		{"nothing", Request{}, false, nil, "id or rule is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := e.request(ActionTest, tt.req)
			if tt.wantErr != "" {
				if rep.Status != "error" || !strings.Contains(rep.Message, tt.wantErr) {
					t.Errorf("%+v, want error %q", rep, tt.wantErr)
				}
				return
			}
			if rep.Status != "success" {
				t.Fatalf("%+v", rep)
			}
			d := rep.Data.(map[string]any)
			if d["firing"] != tt.firing {
				t.Errorf("firing %v, want %v (%v)", d["firing"], tt.firing, d)
			}
			for k, want := range tt.values {
				if got := d["values"].(map[string]any)[k]; got != want {
					t.Errorf("value %s = %v, want %v", k, got, want)
				}
			}
		})
	}
	if n := len(e.incidents("hot")); n != 1 || s.Stats().Fired != 1 {
		t.Errorf("test created incidents: %d, stats %+v", n, s.Stats())
	}
	if n := len(e.incidents("test")); n != 0 {
		t.Errorf("test created %d incidents for the tried rule", n)
	}
}

// TestOperatorStatus: an incident an operator acknowledged stays the
// rule's open one across a takeover (no second incident while the
// condition holds); one they resolved keeps their resolvedAt when the
// condition clears.
func TestOperatorStatus(t *testing.T) {
	e := newEnv(t)
	cfg := Config{Rules: []Rule{{ID: "hot", Vars: map[string]Var{"v": {Ref: "demo_meters.M1>measurements.voltage"}}, Condition: "v > 250"}}}
	_, stop := e.start(cfg, "a")
	e.write("M1", "voltage", 290)
	e.waitFor("fired", func() bool { return len(e.incidents("hot")) == 1 })
	id := e.incidents("hot")[0]["_id"].(string)
	ctx := context.Background()
	if _, err := e.st.UpdateByID(ctx, "incidents", "items", id, map[string]any{"$set": map[string]any{FieldStatus: "acknowledged"}}); err != nil {
		t.Fatal(err)
	}
	stop()
	b, _ := e.start(cfg, "b") // takes over, evaluates every rule once: still firing
	e.waitFor("b evaluated", func() bool { return b.Stats().Takeovers == 1 && b.Stats().Evaluations > 0 })
	if n := len(e.incidents("hot")); n != 1 || b.Stats().Deduplicated == 0 {
		t.Fatalf("%d incidents, stats %+v: want the acknowledged one kept open", n, b.Stats())
	}
	by := e.clock().Add(-time.Hour).UTC()
	if _, err := e.st.UpdateByID(ctx, "incidents", "items", id, map[string]any{"$set": map[string]any{FieldStatus: StatusResolved, FieldResolvedAt: by}}); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Second)
	e.write("M1", "voltage", 230)
	e.waitFor("cleared", func() bool { return b.Stats().Resolved == 1 })
	doc := e.incidents("hot")[0]
	if got, _ := doc[FieldResolvedAt].(time.Time); !got.Equal(by) || doc["details"].(map[string]any)["clearedAt"] == nil {
		t.Errorf("operator's resolution overwritten: %v", doc)
	}
}
