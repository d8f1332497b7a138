package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

// pollOnce polls slave 0 of s on dev with the real poller, as the agent does.
func pollOnce(t *testing.T, s *settings.Settings, dev *device) model.Update {
	t.Helper()
	sl := &s.ModbusSlaves[0]
	p := poller.New(dev.client, poller.Options{Name: "test", Slave: sl, Vars: s.ModbusMaps[sl.Map],
		Document: settings.Document{Layer: "test", Collection: "slaves", ID: "s0"}, Period: time.Second,
		Sink: func(context.Context, []model.Update) error { return nil }, Logger: testLogger(t)})
	u, err := p.PollOnce(context.Background())
	if err != nil || u == nil {
		t.Fatalf("PollOnce = %v, %v", u, err)
	}
	return *u
}

// TestPublishSeedExample publishes the seed's PANASONIC example, polled from
// a Modbus device, and checks the message against the golden file.
func TestPublishSeedExample(t *testing.T) {
	br := startBroker(t, brokerOptions{users: auth.Users{"etra": {Username: "etra", Password: "etra"}}})
	s := loadSettings(t, "panasonic.json", br.addr)
	dev := startDevice(t)
	dev.mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21, 45, 3) // temperature 21, luminance 45×10, mode 3 = FAN

	obs := connectPeer(t, br.addr, "etra", "etra")
	obs.subscribe("SENSOR_ABC/#")

	b, err := New(s, NewDeviceWriter(s, dev.bus()), Options{ClientID: "edge-1", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runBridge(t, b)

	u := pollOnce(t, s, dev)
	u.TS = time.Date(2021, 7, 28, 5, 48, 17, 103_000_000, time.UTC)
	b.Publish(0, u)

	m := obs.next("SENSOR_ABC/STATUS")
	want, err := os.ReadFile(filepath.Join("testdata", "panasonic_status.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, m.Payload, want)
	if m.QoS != 1 || m.Retain {
		t.Errorf("QoS %d retain %v, want 1 false", m.QoS, m.Retain)
	}

	// _DATE_ of a real reading: ISO 8601, UTC, milliseconds, the reading's time.
	u = pollOnce(t, s, dev)
	b.Publish(0, u)
	m = obs.next("SENSOR_ABC/STATUS")
	var got map[string]any
	if err := json.Unmarshal(m.Payload, &got); err != nil {
		t.Fatal(err)
	}
	ts, _ := got["timestamp"].(string)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
		t.Errorf("timestamp %q is not ISO 8601 UTC with milliseconds", ts)
	}
	if want := u.TS.UTC().Format("2006-01-02T15:04:05.000Z"); ts != want {
		t.Errorf("timestamp %q, want the reading's time %q", ts, want)
	}
	eventually(t, "2 publications counted", func() bool { return b.Stats().Published >= 2 })
	if st := b.Stats(); !st.Connected || st.Dropped != 0 || st.PublishErrors != 0 {
		t.Errorf("stats %+v: want connected, nothing dropped or failed", st)
	}
}

func measurements(ts time.Time, ms map[string]model.Measurement) model.Update {
	return model.MeasurementUpdate("l", "c", "id", ts, ms)
}

func TestRender(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 7_000_000, time.FixedZone("CEST", 2*3600))
	tmpl := map[string]any{
		"ts":    "_DATE_",
		"t":     "_temp_",
		"label": "T=_temp_ C, mode _mode_ at _DATE_",
		"nested": map[string]any{
			"list":  []any{"_temp_", "_on_", 1.5, "_nope_", map[string]any{"m": "_mode_"}},
			"plain": "no_placeholder_here",
		},
		"unknown":    "_nope_",
		"bad":        "_bad_",
		"never":      "_never_",
		"nan":        "_nan_",
		"big":        "_big_",
		"_temp_":     "keys are not rendered",
		"long":       "_temp_x_",
		"bits":       "_bits_",
		"overridden": "template",
	}
	extras := map[string]any{"id": "X", "overridden": "extra", "from_extras": "_mode_"}
	r := newRenderer([]string{"temp", "temp_x", "mode", "on", "bad", "never", "nan", "big", "bits"})
	values := map[string]any{"temp": 21.5, "temp_x": 7.0, "mode": "FAN", "on": true, "bad": nil, "nan": math.NaN(),
		"big": uint64(18446744073709551615), "bits": []bool{true, false}}
	got, err := json.Marshal(r.render(tmpl, extras, values, ts))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
		"ts": "2024-05-01T08:00:00.007Z",
		"t": 21.5,
		"label": "T=21.5 C, mode FAN at 2024-05-01T08:00:00.007Z",
		"nested": {"list": [21.5, true, 1.5, "_nope_", {"m": "FAN"}], "plain": "no_placeholder_here"},
		"unknown": "_nope_",
		"bad": null,
		"never": null,
		"nan": null,
		"big": 18446744073709551615,
		"_temp_": "keys are not rendered",
		"long": 7,
		"bits": [true, false],
		"overridden": "extra",
		"id": "X",
		"from_extras": "FAN"
	}`
	// big does not survive a float64 round trip: compare it textually.
	if !strings.Contains(string(got), `"big":18446744073709551615`) {
		t.Errorf("big integer not rendered exactly: %s", got)
	}
	jsonEqual(t, got, []byte(want))
	// The template must not be modified.
	if tmpl["t"] != "_temp_" {
		t.Errorf("template modified: %v", tmpl["t"])
	}
}

// TestPublishKeepsLastValues: a variable left out of an update (deadband)
// keeps its last value; a bad reading renders null.
func TestPublishKeepsLastValues(t *testing.T) {
	s := loadSettings(t, "writes.json", "127.0.0.1:1")
	b, err := New(s, NewDeviceWriter(s, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b.Publish(0, measurements(ts, map[string]model.Measurement{
		"temperature": {Value: 20.0, Quality: model.QualityGood, Timestamp: ts},
		"mode":        {Value: "HEAT", Quality: model.QualityGood, Timestamp: ts},
	}))
	b.Publish(0, measurements(ts.Add(time.Second), map[string]model.Measurement{
		"mode": {Value: "FAN", Quality: model.QualityGood, Timestamp: ts},
	}))
	b.Publish(0, measurements(ts.Add(2*time.Second), map[string]model.Measurement{
		"temperature": {Value: 20.0, Quality: model.QualityBad, Timestamp: ts},
	}))
	want := []string{
		`{"ts":"2024-01-01T00:00:00.000Z","temperature":20,"mode":"HEAT"}`,
		`{"ts":"2024-01-01T00:00:01.000Z","temperature":20,"mode":"FAN"}`,
		`{"ts":"2024-01-01T00:00:02.000Z","temperature":null,"mode":"FAN"}`,
	}
	for i, w := range want {
		select {
		case m := <-b.pubq:
			if m.topic != "HVAC/STATUS" {
				t.Errorf("message %d on %q, want HVAC/STATUS", i, m.topic)
			}
			jsonEqual(t, m.payload, []byte(w))
		default:
			t.Fatalf("message %d not queued", i)
		}
	}
}

func TestPublishQueueDropsOldest(t *testing.T) {
	s := loadSettings(t, "writes.json", "127.0.0.1:1")
	_, err := New(s, nil, Options{QueueSize: 2})
	if err == nil {
		t.Fatal("New with subscriptions and no writer succeeded")
	}
	s.ModbusSlaves[0].MQTTSubscriptions = nil
	b, err := New(s, nil, Options{QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		b.Publish(0, measurements(time.Unix(int64(i), 0), map[string]model.Measurement{"temperature": {Value: float64(i), Quality: 1}}))
	}
	if got := b.Stats().Dropped; got != 3 {
		t.Errorf("dropped %d, want 3", got)
	}
	for _, want := range []float64{3, 4} { // the newest survive
		var msg map[string]any
		if err := json.Unmarshal((<-b.pubq).payload, &msg); err != nil {
			t.Fatal(err)
		}
		if msg["temperature"] != want {
			t.Errorf("queued temperature %v, want %v", msg["temperature"], want)
		}
	}
	b.Publish(5, model.Update{}) // unknown slave: ignored
	if len(b.pubq) != 0 {
		t.Errorf("publish for an unknown slave queued something")
	}
}

// TestReconnect restarts the broker: the bridge reconnects by itself,
// publishes again and subscribes again.
func TestReconnect(t *testing.T) {
	br := startBroker(t, brokerOptions{})
	s := loadSettings(t, "writes.json", br.addr)
	dev := startDevice(t)
	b, err := New(s, NewDeviceWriter(s, dev.bus()), Options{ClientID: "edge-reconnect", Logger: testLogger(t), ConnectTimeout: durationOf(500 * time.Millisecond),
		BackoffMin: durationOf(20 * time.Millisecond), BackoffMax: durationOf(200 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	runBridge(t, b)
	obs := connectPeer(t, br.addr, "", "")
	obs.subscribe("HVAC/#")
	eventually(t, "connection", func() bool { return b.Stats().Connected })
	b.Publish(0, measurements(time.Now(), map[string]model.Measurement{"temperature": {Value: 1.0, Quality: 1}}))
	obs.next("HVAC/STATUS")

	br.close()
	eventually(t, "the bridge to notice the broker is gone", func() bool { return !b.Stats().Connected })
	br = startBroker(t, brokerOptions{addr: br.addr})
	obs = connectPeer(t, br.addr, "", "")
	obs.subscribe("HVAC/#")
	eventually(t, "reconnection", func() bool { return b.Stats().Connected })

	b.Publish(0, measurements(time.Now(), map[string]model.Measurement{"temperature": {Value: 2.0, Quality: 1}}))
	var msg map[string]any
	if err := json.Unmarshal(obs.next("HVAC/STATUS").Payload, &msg); err != nil {
		t.Fatal(err)
	}
	if msg["temperature"] != 2.0 {
		t.Errorf("after reconnection got temperature %v, want 2", msg["temperature"])
	}
	// Subscriptions are restored: a command after the restart is executed.
	eventually(t, "resubscription", func() bool { return b.Stats().Subscribed })
	obs.publish("HVAC/COMMAND", `{"temperature": 33}`)
	eventually(t, "the command", func() bool { return len(b.AuditLog()) > 0 })
	if got := dev.mem.Registers(7, modbus.HoldingRegisters, 1, 1)[0]; got != 33 {
		t.Errorf("register 1 = %d after a command following reconnection, want 33", got)
	}
}

func TestCredentials(t *testing.T) {
	br := startBroker(t, brokerOptions{users: auth.Users{"etra": {Username: "etra", Password: "etra"}}})
	for _, tc := range []struct {
		name  string
		creds *settings.Credentials
		ok    bool
	}{
		{"right", &settings.Credentials{Username: "etra", Password: "etra"}, true},
		{"wrong password", &settings.Credentials{Username: "etra", Password: "nope"}, false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSettings(t, "panasonic.json", br.addr)
			s.MQTT.Credentials = tc.creds
			s.ModbusSlaves[0].MQTTSubscriptions = nil
			b, err := New(s, nil, Options{ClientID: "edge-" + strings.ReplaceAll(tc.name, " ", "-"), Logger: testLogger(t),
				BackoffMin: durationOf(20 * time.Millisecond), BackoffMax: durationOf(100 * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			runBridge(t, b)
			if tc.ok {
				eventually(t, "connection", func() bool { return b.Stats().Connected })
				return
			}
			eventually(t, "the refusal", func() bool { return b.Stats().LastError != "" })
			if st := b.Stats(); st.Connected || !strings.Contains(st.LastError, "bad username or password") {
				t.Errorf("stats %+v: want not connected, refused as not authorized", st)
			}
		})
	}
}

// TestTLS connects to an mqtts:// broker whose certificate is signed by a CA
// given in Options.CAFile, and is refused without it.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCert := testPKI(t, dir)
	br := startBroker(t, brokerOptions{tls: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}})
	got := make(chan []byte, 10)
	if err := br.srv.Subscribe("SENSOR_ABC/STATUS", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		got <- pk.Payload
	}); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(br.addr)

	s := loadSettings(t, "panasonic.json", "mqtts://localhost:"+port)
	s.ModbusSlaves[0].MQTTSubscriptions = nil
	b, err := New(s, nil, Options{ClientID: "edge-tls", CAFile: caFile, Logger: testLogger(t),
		BackoffMin: durationOf(20 * time.Millisecond), BackoffMax: durationOf(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	runBridge(t, b)
	b.Publish(0, measurements(time.Now(), map[string]model.Measurement{"temperature": {Value: 5.0, Quality: 1}}))
	select {
	case p := <-got:
		if !strings.Contains(string(p), `"temperature":5`) {
			t.Errorf("got %s", p)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no publication over TLS")
	}

	// Without the CA the broker's certificate is not trusted.
	b2, err := New(s, nil, Options{ClientID: "edge-tls-untrusted", Logger: testLogger(t),
		BackoffMin: durationOf(20 * time.Millisecond), BackoffMax: durationOf(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	runBridge(t, b2)
	eventually(t, "a certificate error", func() bool { return b2.Stats().LastError != "" })
	if st := b2.Stats(); st.Connected || !strings.Contains(st.LastError, "certificate") {
		t.Errorf("stats %+v: want a certificate error", st)
	}

	if _, err := New(s, nil, Options{CAFile: filepath.Join(dir, "missing.pem")}); err == nil {
		t.Error("New with a missing CA file succeeded")
	}
}

// testPKI writes a CA certificate to dir and returns its path and a server
// certificate for localhost signed by it.
func testPKI(t *testing.T, dir string) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestBrokerURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.168.168.59", "mqtt://192.168.168.59:1883"},
		{"broker.example", "mqtt://broker.example:1883"},
		{"broker.example:11883", "mqtt://broker.example:11883"},
		{"mqtt://broker.example", "mqtt://broker.example:1883"},
		{"tcp://broker.example:1884", "tcp://broker.example:1884"},
		{"mqtts://broker.example", "mqtts://broker.example:8883"},
		{"ssl://broker.example:9999", "ssl://broker.example:9999"},
		{"ws://broker.example/mqtt", "ws://broker.example:80/mqtt"},
		{"wss://broker.example/mqtt", "wss://broker.example:443/mqtt"},
		{"::1", "mqtt://[::1]:1883"},
		{"[::1]:1884", "mqtt://[::1]:1884"},
		{"MQTT://Broker:1", "mqtt://Broker:1"},
	} {
		u, err := BrokerURL(tc.in)
		if err != nil {
			t.Errorf("BrokerURL(%q): %v", tc.in, err)
			continue
		}
		if u.String() != tc.want {
			t.Errorf("BrokerURL(%q) = %s, want %s", tc.in, u, tc.want)
		}
	}
	for _, in := range []string{"", "http://x", "mqtt://", "mqtt://:1883"} {
		if u, err := BrokerURL(in); err == nil {
			t.Errorf("BrokerURL(%q) = %s, want an error", in, u)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	three := byte(3)
	o := Options{QoS: &three, CertFile: "c.pem", QueueSize: -1, ErrorSuffix: "err/#", BackoffMin: durationOf(time.Minute), BackoffMax: durationOf(time.Second)}
	err := o.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad options")
	}
	for _, field := range []string{"qos", "certFile", "queueSize", "errorSuffix", "backoffMax"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	if err := (&Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
}

func TestMatchTopic(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
	} {
		if got := matchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
	for f, want := range map[string]bool{"a/#": true, "#": true, "a/#/b": false, "a+/b": false, "": false, "+/+": true} {
		if got := validFilter(f); got != want {
			t.Errorf("validFilter(%q) = %v, want %v", f, got, want)
		}
	}
}

// TestOptionsDecode: the options decode strictly from the agent's config.
func TestOptionsDecode(t *testing.T) {
	var o Options
	err := config.Decode([]byte(`{"qos": 2, "retain": true, "caFile": "/etc/ca.pem", "keepAlive": "15s",
		"backoffMin": 0.5, "backoffMax": "30s", "auditFile": "/var/log/writes.jsonl", "errorSuffix": "/err"}`), &o)
	if err != nil {
		t.Fatal(err)
	}
	if o.qos() != 2 || !o.Retain || o.KeepAlive.Std() != 15*time.Second || o.BackoffMin.Std() != 500*time.Millisecond ||
		o.AuditFile != "/var/log/writes.jsonl" || o.ErrorSuffix != "/err" {
		t.Errorf("decoded %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
	if err := config.Decode([]byte(`{"qso": 1}`), &o); err == nil || !strings.Contains(err.Error(), "qso") {
		t.Errorf("unknown key: %v, want an error naming it", err)
	}
	var zero Options
	if zero.qos() != DefaultQoS {
		t.Errorf("default QoS %d, want %d", zero.qos(), DefaultQoS)
	}
}
