package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/shared/config"
)

func TestBridgesConfigErrors(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string
	}{
		{"unknown type and direction", `{"bridges":[{"name":"b1","type":"stomp","url":"stomp://x","direction":"both"}]}`,
			[]string{`bridges[0].type: "stomp" is not amqp, kafka, webhook or mqtt`, `bridges[0].direction: "both" is not out or in`}},
		{"mqtt in, bad url and prefix", `{"bridges":[{"name":"m","type":"mqtt","url":"http://x","topic":"a/#","direction":"in","layer":"l","collection":"c"}]}`,
			[]string{"bridges[0].url: is not an mqtt:// or mqtts:// URL", `bridges[0].topic: "a/#" is not an MQTT topic prefix`,
				"bridges[0].direction: an mqtt bridge only forwards"}},
		{"retain on a webhook", `{"bridges":[{"name":"w","type":"webhook","url":"http://x","direction":"out","layers":["l"],"retain":true}]}`,
			[]string{"bridges[0].retain: is for mqtt bridges"}},
		{"names", `{"bridges":[{"name":"a b","type":"webhook","url":"http://x","direction":"out","layers":["l"]},
			{"name":"w","type":"webhook","url":"http://x","direction":"out","layers":["l"]},
			{"name":"w","type":"webhook","url":"http://x","direction":"out","layers":["l"]}]}`,
			[]string{`bridges[0].name: "a b" is not a bridge name`, `bridges[2].name: bridge "w" is listed twice`}},
		{"out without layers, reserved layer", `{"bridges":[{"name":"o","type":"amqp","url":"amqp://h","direction":"out"},
			{"name":"s","type":"amqp","url":"amqp://h","direction":"out","layers":["system"]}]}`,
			[]string{"bridges[0].layers: an outbound bridge needs the layers", `bridges[1].layers[0]: layer "system" is reserved`}},
		{"in without target or queue", `{"bridges":[{"name":"i","type":"amqp","url":"amqp://h","direction":"in"}]}`,
			[]string{"bridges[0].queue: is required", "bridges[0].collection: an inbound bridge needs the layer and collection"}},
		{"kafka url and topic", `{"bridges":[{"name":"k","type":"kafka","url":"kafka://nohost","direction":"in","layer":"l","collection":"c"}]}`,
			[]string{`bridges[0].url: kafka URL: broker "nohost" is not host:port`, "bridges[0].topic: is required"}},
		{"converter without service", `{"bridges":[{"name":"k","type":"kafka","url":"kafka://h:9092","topic":"t","direction":"in","layer":"l","collection":"c","converter":"x"}]}`,
			[]string{"bridges[0].converter: needs services.converters.enabled"}},
		{"webhook in, bad url", `{"bridges":[{"name":"w","type":"webhook","url":"ftp://x","direction":"in","layer":"l","collection":"c"}]}`,
			[]string{"bridges[0].url: is not an http:// or https:// URL", "bridges[0].direction: a webhook bridge only forwards"}},
		{"incidents layer out", `{"services":{"incidents":{"enabled":true}},"bridges":[{"name":"w","type":"webhook","url":"http://x","direction":"out","layers":["incidents"]}]}`,
			[]string{`bridges[0].layers[0]: layer "incidents" holds the incidents`}},
		{"empty env url", `{"bridges":[{"name":"w","type":"webhook","url":"$GRIDEDGE_TEST_UNSET_URL","direction":"out","layers":["l"]}]}`,
			[]string{"bridges[0].url: environment variable GRIDEDGE_TEST_UNSET_URL is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			if err := config.Decode([]byte(tc.json), &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.Defaults()
			err := cfg.Validate()
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestBridgesThroughStart: a hub with an inbound Kafka bridge (through a
// converter) and an outbound webhook bridge of the same layer: a record
// becomes a document, whose change event reaches the webhook.
func TestBridgesThroughStart(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "meters-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var mu sync.Mutex
	var events []bridge.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var evs []bridge.Event
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		events = append(events, evs...)
		mu.Unlock()
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(kc.ListenAddrs()[0])
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	t.Setenv("GRIDEDGE_TEST_KAFKA", "kafka://"+net.JoinHostPort(host, port))
	cfg := testConfig(t, t.TempDir())
	if err := config.Decode([]byte(`{
		"layers": [{"_id": "gridflex", "label": "GRIDFLEX", "collections": [{"name": "meters"}]}],
		"services": {"converters": {"enabled": true}},
		"bridges": [
			{"name": "meters-in", "type": "kafka", "url": "$GRIDEDGE_TEST_KAFKA", "direction": "in",
			 "topic": "meters-in", "layer": "gridflex", "collection": "meters", "converter": "meter"},
			{"name": "platform", "type": "webhook", "url": "`+srv.URL+`", "direction": "out", "layers": ["gridflex"]}]}`), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// the converter exists before the hub starts
	pre, err := Start(context.Background(), withoutBridges(cfg), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pre.Store().Insert(context.Background(), "converters", "transformations", []map[string]any{{"_id": "meter",
		"template": map[string]any{"_id": "{{id}}", "measurements": map[string]any{"power": map[string]any{"value": "{{p}}", "quality": 1}}}}}); err != nil {
		t.Fatal(err)
	}
	pre.Close()
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DefaultProduceTopic("meters-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 20 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(`{"id":"K` + strconv.Itoa(i) + `","p":` + strconv.Itoa(i*10) + `}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d webhook events, want 20", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d, err := h.Store().Get(context.Background(), "gridflex", "meters", "K7")
	if err != nil {
		t.Fatal(err)
	}
	if v := d["measurements"].(map[string]any)["power"].(map[string]any)["value"]; v != 70.0 {
		t.Errorf("K7 power = %v, want 70 (the converter's output)", v)
	}
	mu.Lock()
	defer mu.Unlock()
	e := events[0]
	if e.Op != "insert" || e.Layer != "gridflex" || e.Collection != "meters" || !strings.HasPrefix(e.ID, "K") || e.Document == nil || !strings.HasPrefix(e.Key, cfg.Domain+":") {
		t.Errorf("got event %+v, want an insert of gridflex/meters/K… with its document and key", e)
	}
}

// withoutBridges is cfg with no bridges.
func withoutBridges(cfg *Config) *Config {
	c := *cfg
	c.Bridges = nil
	return &c
}

// TestBridgesDocExample: the config example of docs/bridges.md decodes
// strictly and validates.
func TestBridgesDocExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/bridges.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/bridges.md has no yaml block")
	}
	t.Setenv("GRIDEDGE_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")
	var c Config
	if err := config.Decode([]byte(block), &c); err != nil {
		t.Fatalf("decode the example: %v", err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("validate the example: %v", err)
	}
	if len(c.Bridges) != 6 || c.Bridges[5].Topic != "xflex" || !c.Bridges[5].Retain || c.Bridges[0].Exchange != "xflex" || c.Bridges[3].Group != "gridedge-kafka-in" || c.Bridges[1].BindingKey != "meters.#" {
		t.Errorf("decoded %+v", c.Bridges)
	}
}
