package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/shared/config"
)

// TestServicesThroughTheHub starts a hub with both services on: a virtual
// sensor is computed from REST writes and its output reaches REST and the
// history; a converter stored through REST is tested through its route.
func TestServicesThroughTheHub(t *testing.T) { servicesThroughTheHub(t, "bolt") }

// TestServicesThroughTheHubOnMongo is the same on the mongo backend.
func TestServicesThroughTheHubOnMongo(t *testing.T) { servicesThroughTheHub(t, "mongo") }

func servicesThroughTheHub(t *testing.T, backend string) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	cfg := &Config{DataDir: t.TempDir(), NATS: NATSConfig{Listen: "127.0.0.1:-1", LeafListen: "127.0.0.1:0"},
		Layers: []store.Layer{{ID: "demo", Collections: []store.Collection{{Name: "meters"}}}}}
	if backend == "mongo" {
		uri, _ := mongotest.URI(t)
		cfg.Store = StoreConfig{Backend: "mongo", MongoURI: uri, Database: mongotest.DatabaseName()}
	}
	cfg.HTTP.Listen = "127.0.0.1:0"
	if err := config.Decode([]byte(`{"services": {
		"converters": {"enabled": true},
		"vsensors": {"enabled": true, "settings": {"sensors": [{"collection": "demo_loads", "virtualsensors": [{
			"id": "SUM", "window": 3600,
			"template": {"measurements": {"activePower": {"value": "{demo_meters.M1>measurements.activePower.value} + {demo_meters.M2>measurements.activePower.value}", "quality": 1, "timestamp": "{timestamp}"}},
			             "measurementsTimestamp": "{timestamp}"}},
			{"id": "POLLED", "poll": true, "window": 1, "template": {"measurements": {"m1": {"value": "{demo_meters.M1>measurements.activePower.value|-1}", "quality": 1}}}}]}]}}}}`), cfg); err != nil {
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

	ts := time.Now().UTC().Truncate(time.Millisecond)
	for i, id := range []string{"M1", "M2"} {
		doc := map[string]any{"_id": id, "measurements": map[string]any{"activePower": map[string]any{
			"value": 100.0 * float64(i+1), "quality": 1, "timestamp": ts.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)}}}
		if code, m := call(t, "POST", base+"/demo/meters", doc, hdr); code != 200 {
			t.Fatalf("insert %s: %d %v", id, code, m)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var out map[string]any
	for {
		// (SUM is marked bad while M2 does not exist yet)
		code, m := call(t, "GET", base+"/demo/loads/SUM", nil, hdr)
		if code == 200 {
			out = m["data"].(map[string]any)
			if out["measurements"].(map[string]any)["activePower"].(map[string]any)["value"] != nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output after 10s: %d %v", code, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ap := out["measurements"].(map[string]any)["activePower"].(map[string]any)
	if ap["value"] != 300.0 || ap["virtual"] != true {
		t.Fatalf("SUM = %v, want activePower 300, virtual", out)
	}
	// the output's measurement is in the history
	for {
		code, m := call(t, "GET", base+"/history/demo/loads/SUM?fields=measurements.activePower", nil, hdr)
		b, _ := json.Marshal(m)
		if code == 200 && len(m["data"].([]any)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no history of SUM: %d %s", code, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// the poll-mode sensor, on the hub's JetStream lease, sees M1 within its window
	for {
		code, m := call(t, "GET", base+"/demo/loads/POLLED", nil, hdr)
		if code == 200 {
			if v := m["data"].(map[string]any)["measurements"].(map[string]any)["m1"].(map[string]any)["value"]; v == 100.0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("POLLED: %d %v", code, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := h.VSensors().Stats(); st.Outputs < 2 || st.WriteErrors != 0 {
		t.Errorf("vsensors stats %+v", st)
	}

	// converters: stored in converters/transformations, tested by id
	conv := map[string]any{"_id": "my-transformation", "code": "(d) => { d.newField = 'myData'; return d; }"}
	if code, m := call(t, "POST", base+"/converters/transformations", conv, hdr); code != 200 {
		t.Fatalf("store the converter: %d %v", code, m)
	}
	code, m := call(t, "POST", base+"/converters/my-transformation/test", map[string]any{"a": 1}, hdr)
	if got, _ := json.Marshal(m); code != 200 || string(got) != `{"data":{"a":1,"newField":"myData"},"status":"success"}` {
		t.Fatalf("test the converter: %d %s", code, got)
	}
}

// TestServicesConfig: a loop in the virtual sensors is a config error
// naming its path; the converters' layer must be a valid, free name.
func TestServicesConfig(t *testing.T) {
	tests := []struct {
		name, cfg, want string
	}{
		{"loop", `{"services": {"vsensors": {"enabled": true, "settings": {"sensors": [{"collection": "a_b", "virtualsensors": [
			{"id": "X", "template": {"v": "{a_b.Y>v} + 1"}}, {"id": "Y", "template": {"v": "{a_b.X>v} + 1"}}]}]}}}}`,
			"services.vsensors.settings: virtual sensors form a loop: a_b.X -> a_b.Y -> a_b.X"},
		{"reserved layer", `{"services": {"converters": {"enabled": true, "layer": "system"}}}`, `services.converters.layer: layer "system" is reserved`},
		{"off is not checked", `{"services": {"converters": {"layer": "system"}}}`, ""},
		{"output converter without the converters service", `{"services": {"vsensors": {"enabled": true, "settingsFile": "../vsensors/testdata/seed.json",
			"converters": {"gridflex_loads.LOAD01": "to-watts"}}}}`, "services.vsensors.converters: needs the converters service (services.converters.enabled)"},
		{"output converter of an unknown sensor", `{"services": {"converters": {"enabled": true}, "vsensors": {"enabled": true, "settingsFile": "../vsensors/testdata/seed.json",
			"converters": {"gridflex_loads.LOAD09": "to-watts"}}}}`, `"gridflex_loads.LOAD09" is not a virtual sensor of the settings`},
		{"docs/services.md example", `
services:
  converters:
    enabled: true
    layer: converters
    collection: transformations
    limits: {timeout: 100ms, maxInputBytes: 1048576, maxOutputBytes: 1048576,
             maxAllocBytes: 67108864, maxArrayLength: 100000, maxStringLength: 1048576, maxCallDepth: 256}
  vsensors:
    enabled: true
    settingsFile: ../vsensors/testdata/seed.json
    tick: 1s
    lease: 5s
`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode([]byte(tt.cfg), &c); err != nil {
				t.Fatal(err)
			}
			c.Defaults()
			err := c.Validate()
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && (err == nil || !strings.Contains(got, tt.want))) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
