package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// TestIncidentsThroughTheHub starts a hub with services.incidents on and
// the seed's incidents layer in its config: an incident inserted over REST
// makes the workflow call (a local recording HTTP server stands in for
// Flowable), the attempt is audited on the incident as REST shows it, and
// /metrics counts it.
func TestIncidentsThroughTheHub(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key")+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	t.Setenv(EnvAdminPassword, "demo-admin-password")
	cfg := &Config{DataDir: t.TempDir(), NATS: NATSConfig{Listen: "127.0.0.1:-1", LeafListen: "127.0.0.1:0"}}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Metrics.ScrapeToken = metricsTestToken
	if err := config.Decode([]byte(`{"layers": [{"_id": "incidents", "label": "INCIDENTS",
		"config": {"notify": {"OVERVOLTAGE": {"url": "`+srv.URL+`/flowable-rest/service/runtime/process-instances",
			"auth": "user:pass", "method": "POST",
			"body": {"processDefinitionKey": "overvoltage", "businessKey": "VALUE_INCIDENT_ID", "returnVariables": false,
			         "variables": [{"name": "data", "value": "VALUE_INCIDENT"}]}}}},
		"collections": [{"name": "items", "geo": true, "label": "Incidents"}, {"name": "protocols"}]}],
		"services": {"incidents": {"enabled": true, "backoff": "50ms"}}}`), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := "http://" + h.HTTPAddr() + "/api/v2"
	_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}

	inc := map[string]any{"_id": "z5uikc3dbfNvFssjs", "type": "OVERVOLTAGE",
		"details":     map[string]any{"meterId": "SM001", "timestamp": map[string]any{"$date": "2020-11-22T11:30:00.000+01:00"}, "voltage": 287},
		"description": "An overvoltage was detected by SM001 (287V) at 12:30 22/11/2020"}
	if code, m := call(t, "POST", base+"/incidents/items", inc, hdr); code != 200 {
		t.Fatalf("insert the incident: %d %v", code, m)
	}
	deadline := time.Now().Add(15 * time.Second)
	var doc map[string]any
	for {
		code, m := call(t, "GET", base+"/incidents/items/z5uikc3dbfNvFssjs", nil, hdr)
		if code == 200 {
			doc = m["data"].(map[string]any)
			if doc["notificationState"] == "delivered" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after 15s: %d %v", code, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	got := append([]string(nil), bodies...)
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d calls, want 1: %v", len(got), got)
	}
	for _, want := range []string{"POST /flowable-rest/service/runtime/process-instances gridedge:incidents_items:z5uikc3dbfNvFssjs ",
		`"businessKey":"z5uikc3dbfNvFssjs"`, `"value":{"_expired":false,"_id":"z5uikc3dbfNvFssjs",`, `"timestamp":"2020-11-22T10:30:00Z"`, `"voltage":287`} {
		if !strings.Contains(got[0], want) {
			t.Errorf("call %s\nlacks %s", got[0], want)
		}
	}
	audit, _ := json.Marshal(doc["notifications"])
	if !strings.Contains(string(audit), `"status":201`) || !strings.Contains(string(audit), `"target":"workflow"`) {
		t.Errorf("audit %s", audit)
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+metricsTestToken) }
	_, fams := scrape(t, h.HTTPAddr(), bearer)
	if v := value(fams, "gridedge_incident_notifications_total", "kind", "workflow", "outcome", "delivered"); v != 1 {
		t.Errorf("gridedge_incident_notifications_total{workflow,delivered} = %v, want 1", v)
	}
	if v := value(fams, "gridedge_incident_notification_attempts_total", "kind", "workflow", "result", "ok"); v != 1 {
		t.Errorf("gridedge_incident_notification_attempts_total{workflow,ok} = %v, want 1", v)
	}
	if st := h.Incidents().Stats(); st.Delivered != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestIncidentsConfig: bad services.incidents sections are refused with
// the path of each problem.
func TestIncidentsConfig(t *testing.T) {
	tests := []struct {
		name, cfg, want string
	}{
		{"reserved layer", `{"services": {"incidents": {"enabled": true, "layer": "system"}}}`, `services.incidents.layer: layer "system" is reserved`},
		{"bad collection", `{"services": {"incidents": {"enabled": true, "collection": "a b"}}}`, `services.incidents.collection`},
		{"attempts", `{"services": {"incidents": {"enabled": true, "maxAttempts": -2}}}`, `services.incidents.maxAttempts: -2 is below 1`},
		{"unknown key", `{"services": {"incidents": {"enabled": true, "retries": 3}}}`, `retries`},
		{"webhook without secret", `{"services": {"incidents": {"enabled": true, "subscriptions": [{"id": "ops", "webhook": {"url": "https://ops.example/hook"}}]}}}`,
			`services.incidents.subscriptions[0].webhook.secret: is required`},
		{"alert rule", `{"services": {"alerts": {"enabled": true, "rules": [{"id": "r", "condition": "v > 1", "vars": {"v": {"ref": "a_b.c>d", "agg": "avg"}}}]}}}`,
			`services.alerts.rules[0].vars.v: agg avg needs a window`},
		{"alerts layer reserved", `{"services": {"alerts": {"enabled": true, "layer": "system"}}}`, `services.alerts.layer: layer "system" is reserved`},
		{"good", `{"services": {"incidents": {"enabled": true, "maxAttempts": 8, "backoff": "5s", "maxBackoff": "10m", "timeout": "30s",
			"subscriptions": [{"id": "ops", "types": ["OVER*"], "layers": ["gridflex"], "webhook": {"url": "https://ops.example/hook", "secret": "$HOOK_SECRET"}},
			                  {"id": "oncall", "email": {"to": ["oncall@example.org"]}}]}}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			err := config.Decode([]byte(tt.cfg), &c)
			if err == nil {
				c.Defaults()
				err = c.Validate()
			}
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && (err == nil || !strings.Contains(got, tt.want))) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestAlertsThroughTheHub: a window rule on REST writes fires an incident,
// whose type's workflow the incidents service calls (so an alert starts a
// workflow), and resolves it when the average falls back.
func TestAlertsThroughTheHub(t *testing.T) {
	calls := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- string(b)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	cfg := &Config{DataDir: t.TempDir(), NATS: NATSConfig{Listen: "127.0.0.1:-1", LeafListen: "127.0.0.1:0"}}
	cfg.HTTP.Listen = "127.0.0.1:0"
	if err := config.Decode([]byte(`{"layers": [{"_id": "demo", "collections": [{"name": "meters"}]},
		{"_id": "incidents", "config": {"notify": {"OVERVOLTAGE": {"url": "`+srv.URL+`/start", "body": {"incident": "VALUE_INCIDENT"}}}},
		 "collections": [{"name": "items"}]}],
		"services": {"incidents": {"enabled": true},
		  "alerts": {"enabled": true, "rules": [{"id": "hot", "type": "OVERVOLTAGE",
		    "vars": {"v": {"ref": "demo_meters.M1>measurements.voltage", "agg": "avg", "window": "1h"}}, "condition": "v > 250"}]}}}`), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := "http://" + h.HTTPAddr() + "/api/v2"
	_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	ts := time.Now().UTC()
	write := func(v float64, at time.Time) {
		t.Helper()
		doc := map[string]any{"_id": "M1", "measurements": map[string]any{"voltage": map[string]any{"value": v, "quality": 1, "timestamp": at.Format(time.RFC3339Nano)}}}
		if code, m := call(t, "POST", base+"/bulk/demo/meters", []any{doc}, hdr); code != 200 {
			t.Fatalf("write: %d %v", code, m)
		}
	}
	write(240, ts.Add(-2*time.Second))
	write(290, ts.Add(-time.Second)) // avg 265
	var body string
	select {
	case body = <-calls:
	case <-time.After(15 * time.Second):
		t.Fatal("no workflow call after 15s")
	}
	if !strings.Contains(body, `"type":"OVERVOLTAGE"`) || !strings.Contains(body, `"rule":"hot"`) || !strings.Contains(body, `"status":"open"`) {
		t.Errorf("workflow body %s", body)
	}
	write(100, ts) // avg 210
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, m := call(t, "GET", base+"/incidents/items?query="+`{"details.rule":"hot"}`, nil, hdr)
		if list, _ := m["data"].([]any); code == 200 && len(list) == 1 && list[0].(map[string]any)["status"] == "resolved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not resolved after 15s: %d %v", code, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := h.Alerts().Stats(); st.Fired != 1 || st.Resolved != 1 {
		t.Errorf("alerts stats %+v", st)
	}
	if len(calls) != 0 {
		t.Errorf("the resolution made a workflow call: %s", <-calls)
	}

	// the services answer on NATS: <domain>.incidents.*, <domain>.alerts.*
	nc, err := h.Broker().Connect("test-client")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ask := func(subj, req string) map[string]any {
		t.Helper()
		msg, err := nc.Request(subj, []byte(req), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subj, err)
		}
		var rep map[string]any
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			t.Fatalf("%s: %s: %v", subj, msg.Data, err)
		}
		return rep
	}
	rep := ask(subject.Incidents(cfg.Domain, "list"), `{"status": "resolved"}`)
	list, _ := rep["data"].([]any)
	if rep["status"] != "success" || len(list) != 1 {
		t.Fatalf("incidents.list: %v", rep)
	}
	id := list[0].(map[string]any)["_id"].(string)
	if rep := ask(subject.Incidents(cfg.Domain, "ack"), `{"id": "`+id+`"}`); rep["status"] != "error" {
		t.Errorf("acknowledging a resolved incident: %v", rep)
	}
	if rep := ask(subject.Alerts(cfg.Domain, "test"), `{"id": "hot"}`); rep["status"] != "success" || rep["data"].(map[string]any)["firing"] != false {
		t.Errorf("alerts.test: %v", rep)
	}
	if rep := ask(subject.Alerts(cfg.Domain, "list"), ``); rep["status"] != "success" || len(rep["data"].([]any)) != 1 {
		t.Errorf("alerts.list: %v", rep)
	}
}

// TestIncidentsDocExamples decodes and validates the services.incidents
// and services.alerts examples of docs/services.md.
func TestIncidentsDocExamples(t *testing.T) {
	b, err := os.ReadFile("../../docs/services.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.HasPrefix(block, "services:\n  incidents:") && !strings.HasPrefix(block, "services:\n  alerts:") {
			continue
		}
		found++
		var c Config
		if err := config.Decode([]byte(block), &c); err != nil {
			t.Fatalf("example %d: %v\n%s", found, err, block)
		}
		c.Defaults()
		if err := c.Validate(); err != nil {
			t.Errorf("example %d: %v\n%s", found, err, block)
		}
	}
	if found != 2 {
		t.Errorf("found %d examples, want 2", found)
	}
}
