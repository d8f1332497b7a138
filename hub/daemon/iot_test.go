package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/shared/config"
)

// TestIoTThroughStart: with iot.enabled the hub serves the provisioning
// API with its credentials and POST /iot/json; a reading lands in the
// REST API's document and history like an edge's.
func TestIoTThroughStart(t *testing.T) { iotThroughStart(t, "bolt") }

// TestIoTThroughStartOnMongo: the same on the mongo backend.
func TestIoTThroughStartOnMongo(t *testing.T) { iotThroughStart(t, "mongo") }

func iotThroughStart(t *testing.T, backend string) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := testConfig(t, t.TempDir())
	if backend == "mongo" {
		uri, _ := mongotest.URI(t)
		cfg.Store = StoreConfig{Backend: "mongo", MongoURI: uri, Database: mongotest.DatabaseName()}
	}
	cfg.IoT.Enabled = true
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	root := "http://" + h.HTTPAddr()
	base := root + "/api/v2"
	if code, m := call(t, "POST", root+"/iot/services", map[string]any{"services": []any{}}, nil); code != 401 || m["name"] != "UNAUTHORIZED" {
		t.Errorf("no credentials: %d %v", code, m)
	}
	_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string),
		"Fiware-Service": "smart_city", "Fiware-ServicePath": "/"}
	group := map[string]any{"services": []any{map[string]any{"apikey": "k1", "resource": "/iot/json", "entity_type": "Sensor",
		"attributes": []any{map[string]any{"object_id": "t", "name": "temperature", "type": "Number", "expression": "t / 10"}}}}}
	if code, m := call(t, "POST", root+"/iot/services", group, hdr); code != 200 {
		t.Fatalf("POST /iot/services: %d %v", code, m)
	}
	if code, m := call(t, "POST", root+"/iot/json?k=k1&i=s1", map[string]any{"t": 215}, nil); code != 200 {
		t.Fatalf("POST /iot/json: %d %v", code, m)
	}
	if code, m := call(t, "GET", root+"/iot/about", nil, nil); code != 200 || m["libVersion"] != "3.3.0" || m["port"] == "" {
		t.Errorf("/iot/about: %d %v", code, m)
	}
	// the service smart_city is the layer smart-city; the entity is Sensor:s1
	id := url.PathEscape("Sensor:s1")
	code, m := call(t, "GET", base+"/smart-city/Sensor/"+id, nil, hdr)
	if code != 200 {
		t.Fatalf("GET the device's document: %d %v", code, m)
	}
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), `"temperature":{"quality":1,"timestamp"`) || !strings.Contains(string(b), `"value":21.5`) {
		t.Errorf("document %s", b)
	}
	req, _ := http.NewRequest("GET", base+"/history/smart-city/Sensor/"+id+"?fields=measurements.temperature", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(hb), "21.5") {
		t.Errorf("history: %d %s", resp.StatusCode, hb)
	}
	// the rest of the API is untouched
	if code, _ := call(t, "GET", base+"/health", nil, nil); code != 200 {
		t.Errorf("/api/v2/health: %d", code)
	}
}

func TestIoTConfigErrors(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.IoT.Enabled = true
	cfg.IoT.Edge = "e1"
	cfg.IoT.DefaultService = "Bad Service"
	cfg.IoT.MQTT.URL = "http://broker"
	cfg.IoT.Converters = map[string]string{"k1": "vendor"}
	cfg.Edges = []EdgeConfig{{}}
	cfg.Edges[0].ID, cfg.Edges[0].Password = "e1", "password-1234"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"iot.edge: \"e1\" is also a configured edge", "iot.defaultService:", "iot.mqtt.url: scheme \"http\"",
		"iot.converters: needs the converters service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestIoTDocExample: the config example of docs/ingestion.md decodes
// strictly and validates.
func TestIoTDocExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/ingestion.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/ingestion.md has no yaml block")
	}
	var c Config
	if err := config.Decode([]byte(block+"http:\n  listen: 127.0.0.1:0\n"), &c); err != nil {
		t.Fatalf("decode the example: %v", err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("validate the example: %v", err)
	}
	if !c.IoT.Enabled || c.IoT.MQTT.URL != "mqtt://127.0.0.1:1883" || c.IoT.RateLimit.Burst != 20 || *c.IoT.Autoprovision != true {
		t.Errorf("decoded %+v", c.IoT)
	}
}
