package iot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/iotjson"
	"github.com/gridedge/gridedge/shared/model"
)

// seedConfig is seed 003's examples as an agent's devices section: a
// config group with an expression attribute and a static attribute, a
// device renaming object_ids with skipValue, a multi-entity device, and a
// device with a token (Smart Citizen).
const seedConfig = `
service: smart_city
rateLimit: {perSecond: 1, burst: 3}
groups:
  - apikey: 801230BJKL23Y9090DSFL123HJK09H324HV8732
    resource: /iot/json
    entity_type: Thing
    attributes:
      - {object_id: t, name: temperature, type: Number, expression: "t * 10"}
    static_attributes:
      - {name: location, type: Text, value: hall}
  - apikey: noauto
    resource: /iot/json
    entity_type: Meter
    autoprovision: false
devices:
  - device_id: motion001
    entity_name: "urn:ngsd-ld:Motion:001"
    entity_type: Motion
    apikey: 801230BJKL23Y9090DSFL123HJK09H324HV8732
    attributes:
      - {object_id: c, name: count, type: Integer, expression: "c", skipValue: -1}
  - device_id: multi1
    entity_type: Thing
    attributes:
      - {object_id: t, name: temperature, type: Number}
      - {object_id: h, name: humidity, type: Number, entity_name: "Room:r1", entity_type: Room}
  - device_id: kit1
    entity_type: Sensor
    apikey: 801230BJKL23Y9090DSFL123HJK09H324HV8732
    token_hash: %s
`

const seedKey = "801230BJKL23Y9090DSFL123HJK09H324HV8732"

// collector is the pipeline's stand-in at this level: it records what the
// service sends (the agent's tests show the real pipeline behind it).
type collector struct {
	mu sync.Mutex
	us []model.Update
}

func (c *collector) sink(_ context.Context, us []model.Update) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.us = append(c.us, us...)
	return nil
}

// last returns the last update of document id, or nil.
func (c *collector) last(id string) *model.Update {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.us) - 1; i >= 0; i-- {
		if c.us[i].ID == id {
			u := c.us[i]
			return &u
		}
	}
	return nil
}

func value(u *model.Update, name string) any {
	if u == nil {
		return nil
	}
	switch m := u.Set["measurements."+name].(type) {
	case model.Measurement:
		return m.Value
	case map[string]any:
		return m["value"]
	}
	return nil
}

func newService(t *testing.T, token string) (*Service, *collector) {
	t.Helper()
	var cfg Config
	if err := config.Decode([]byte(fmt.Sprintf(seedConfig, iotjson.HashToken(token))), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	s, err := New(&cfg, col.sink, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s, col
}

func post(t *testing.T, h http.Handler, query, body string, hdr ...string) (int, map[string]string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/iot/json"+query, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func TestHTTPSeedExamples(t *testing.T) {
	s, col := newService(t, "secret-token")
	h := s.Handler()
	q := "?k=" + seedKey
	for _, tc := range []struct {
		name, query, body string
		hdr               []string
		doc, measure      string
		want              any
	}{
		{"group expression (autoprovisioned)", q + "&i=d1", `{"t": 2.5}`, nil, "Thing:d1", "temperature", 25.0},
		{"device object_id", q + "&i=motion001", `{"c": 3}`, nil, "urn:ngsd-ld:Motion:001", "count", 3.0},
		{"array of measures in order", q + "&i=d1", `[{"t": 1}, {"t": 4}]`, nil, "Thing:d1", "temperature", 40.0},
		{"multi-entity", q + "&i=multi1", `{"t": 20, "h": 55}`, nil, "Room:r1", "humidity", 55.0},
		{"token", q + "&i=kit1", `{"noise": 42}`, []string{HeaderDeviceToken, "secret-token"}, "Sensor:kit1", "noise", 42.0},
	} {
		code, body := post(t, h, tc.query, tc.body, tc.hdr...)
		if code != 200 {
			t.Errorf("%s: %d %v", tc.name, code, body)
			continue
		}
		if got := value(col.last(tc.doc), tc.measure); got != tc.want {
			t.Errorf("%s: %s.%s = %v, want %v", tc.name, tc.doc, tc.measure, got, tc.want)
		}
	}
	u := col.last("Thing:d1")
	if u.Layer != "smart-city" || u.Collection != "Thing" || u.Set["location"] != "hall" {
		t.Errorf("Thing:d1 update %+v: want layer smart-city, collection Thing, static location", u)
	}
	// skipValue: -1 is not written
	if code, _ := post(t, h, q+"&i=motion001", `{"c": -1}`); code != 200 {
		t.Fatal(code)
	}
	if got := value(col.last("urn:ngsd-ld:Motion:001"), "count"); got == -1.0 {
		t.Errorf("skipValue -1 was written")
	}
	if st := s.Stats(); st.Autoprovisioned != 1 || st.Readings < 5 {
		t.Errorf("stats %+v", st)
	}
}

func TestHTTPBadInput(t *testing.T) {
	s, col := newService(t, "secret-token")
	s.cfg.MaxPayload = 64
	h := s.Handler()
	q := "?k=" + seedKey
	for _, tc := range []struct {
		name, query, body string
		hdr               []string
		code              int
		errName           string
	}{
		{"no k and i", "", `{"t":1}`, nil, 400, iotjson.NameMandatoryParams},
		{"unknown apikey", "?k=nope&i=d1", `{"t":1}`, nil, 404, iotjson.NameGroupNotFound},
		{"malformed JSON", q + "&i=d1", `{"t":`, nil, 400, iotjson.NameWrongSyntax},
		{"not an object", q + "&i=d1", `42`, nil, 400, iotjson.NameWrongSyntax},
		{"oversized", q + "&i=d1", `{"t":"` + strings.Repeat("x", 100) + `"}`, nil, 413, iotjson.NamePayloadTooLarge},
		{"autoprovision off", "?k=noauto&i=m9", `{"t":1}`, nil, 404, iotjson.NameDeviceNotFound},
		{"device of another apikey", "?k=noauto&i=motion001", `{"c":1}`, nil, 404, iotjson.NameDeviceNotFound},
		{"token missing", q + "&i=kit1", `{"noise":1}`, nil, 401, iotjson.NameUnauthorized},
		{"token wrong", q + "&i=kit1", `{"noise":1}`, []string{HeaderDeviceToken, "guess"}, 401, iotjson.NameUnauthorized},
		{"bad entity name", q + "&i=a.b", `{"t":1}`, nil, 400, iotjson.NameWrongSyntax},
	} {
		code, body := post(t, h, tc.query, tc.body, tc.hdr...)
		if code != tc.code || body["name"] != tc.errName || body["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.name, code, body, tc.code, tc.errName)
		}
	}
	if len(col.us) != 0 {
		t.Errorf("refused input reached the pipeline: %+v", col.us)
	}
	if st := s.Stats(); st.Refused != 10 {
		t.Errorf("refused = %d, want 10", st.Refused)
	}
}

// A flooding device gets 429 with Retry-After once its burst is spent;
// another device goes on.
func TestFloodFromOneDeviceIsLimited(t *testing.T) {
	s, col := newService(t, "x")
	now := time.Unix(1e9, 0)
	s.now = func() time.Time { return now }
	h := s.Handler()
	q := "?k=" + seedKey
	ok, limited := 0, 0
	for range 50 {
		r := httptest.NewRequest(http.MethodPost, "/iot/json"+q+"&i=flood", strings.NewReader(`{"t":1}`))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			ok++
		case 429:
			limited++
			if w.Header().Get("Retry-After") != "1" {
				t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
			}
		default:
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if ok != 3 || limited != 47 {
		t.Errorf("ok %d, limited %d: want the burst of 3 then 429", ok, limited)
	}
	if code, body := post(t, h, q+"&i=motion001", `{"c": 7}`); code != 200 {
		t.Errorf("another device: %d %v", code, body)
	}
	now = now.Add(time.Second)
	if code, _ := post(t, h, q+"&i=flood", `{"t":1}`); code != 200 {
		t.Errorf("flooding device after a second: %d", code)
	}
	if st := s.Stats(); st.Limited != 47 {
		t.Errorf("limited = %d", st.Limited)
	}
	_ = col
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"groups: [{apikey: k, resource: /iot/json}]", "groups[0]"},
		{"groups: [{apikey: k, resource: /iot/json, entity_type: T}, {apikey: k, resource: /iot/json, entity_type: U}]", "groups[1]: A device configuration already exists"},
		{"devices: [{device_id: d, entity_type: T, token_hash: abc}]", "devices[0].token_hash"},
		{"devices: [{device_id: d, entity_type: a_b}]", "devices[0]"},
		{"service: a.b", "service"},
		{"mqtt: {enabled: true, url: 'http://x'}", "mqtt.url"},
		{"http: {listen: ':1', tls: {certFile: c}}", "http.tls"},
	} {
		var c Config
		if err := config.Decode([]byte(tc.yaml), &c); err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		c.Defaults()
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// startBroker starts an in-process MQTT broker (the one edge/mqtt's tests
// use) and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { _ = srv.Close() })
	return addr
}

// publisher connects a device to the broker.
func publisher(t *testing.T, ctx context.Context, addr string) *autopaho.ConnectionManager {
	t.Helper()
	u, _ := mqtt.BrokerURL(addr)
	u.Scheme = "tcp"
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{ServerUrls: []*url.URL{u}, KeepAlive: 10,
		ClientConfig: paho.ClientConfig{ClientID: "device-" + t.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.AwaitConnection(ctx); err != nil {
		t.Fatal(err)
	}
	return cm
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMQTTSeedExamples(t *testing.T) {
	addr := startBroker(t)
	s, col := newService(t, "secret-token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := mqtt.BrokerURL(addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.RunMQTT(ctx, Broker{URL: u}) }()
	waitFor(t, "the binding's subscription", func() bool { return s.Stats().MQTTConnected })
	dev := publisher(t, ctx, addr)
	pub := func(topic, payload string) {
		t.Helper()
		if _, err := dev.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	pub(seedKey+"/d2/attrs", `{"t": 3}`)
	waitFor(t, "Thing:d2 temperature 30", func() bool { return value(col.last("Thing:d2"), "temperature") == 30.0 })
	pub(seedKey+"/d2/attrs/t", `5`)
	waitFor(t, "Thing:d2 temperature 50", func() bool { return value(col.last("Thing:d2"), "temperature") == 50.0 })
	pub("/"+seedKey+"/motion001/attrs", `{"c": 9}`)
	waitFor(t, "motion count 9", func() bool { return value(col.last("urn:ngsd-ld:Motion:001"), "count") == 9.0 })
	// a token in the topic; without it the reading is refused
	refused := s.Stats().Refused
	pub(seedKey+"/kit1/attrs", `{"noise": 1}`)
	waitFor(t, "the tokenless reading refused", func() bool { return s.Stats().Refused > refused })
	pub(seedKey+"/kit1/secret-token/attrs", `{"noise": 2}`)
	waitFor(t, "kit1 noise 2", func() bool { return value(col.last("Sensor:kit1"), "noise") == 2.0 })
	pub(seedKey+"/kit1/secret-token/cmdexe", `{"ping": "pong"}`)
	waitFor(t, "ping_status OK", func() bool { return value(col.last("Sensor:kit1"), "ping_status") == "OK" })
	if value(col.last("Sensor:kit1"), "ping_info") != "pong" {
		t.Errorf("ping_info: %+v", col.last("Sensor:kit1"))
	}
	if value(col.last("Sensor:kit1"), "noise") == 1.0 {
		t.Error("the reading without token was taken")
	}
	// malformed JSON and a flood are refused and counted, and nothing
	// else is disturbed (rateLimit: 1/s, burst 3)
	refused = s.Stats().Refused
	pub(seedKey+"/d3/attrs", `{"t":`)
	waitFor(t, "malformed JSON refused", func() bool { return s.Stats().Refused > refused })
	for i := range 10 {
		pub(seedKey+"/d2/attrs", fmt.Sprintf(`{"t": %d}`, 100+i))
	}
	waitFor(t, "the flood limited", func() bool { return s.Stats().Limited >= 7 })
	pub(seedKey+"/d3/attrs", `{"t": 7}`)
	waitFor(t, "Thing:d3 temperature 70", func() bool { return value(col.last("Thing:d3"), "temperature") == 70.0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
