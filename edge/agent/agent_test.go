package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const settingsDoc = `{
  "modbusMaps": {"PANASONIC": [
    {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint"},
    {"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [3, "FAN"]]}
  ]},
  "modbusSlaves": [{"ip": "127.0.0.1", "port": %d, "slaveId": 1, "map": "PANASONIC"}],
  "period": 0.05,
  "logLevel": "Info"
}`

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadResolvesSettingsFileAndDefaults(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, 1502))
	cfg, err := Load(write(t, dir, "agent.yaml", "edge: {id: sub7}\nsettingsFile: settings.json\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain != "gridedge" || cfg.LogLevel != "info" || cfg.Hub.User != "sub7" || cfg.NATS.Listen != "127.0.0.1:4223" ||
		cfg.Heartbeat.Interval.Std() != 5*time.Second || cfg.DataDir != filepath.Join("data", "sub7") {
		t.Fatalf("defaults: %+v", cfg)
	}
	if got := cfg.Forwarder.linger(); got != DefaultLinger {
		t.Errorf("forwarder.linger: got %s, want the default %s", got, DefaultLinger)
	}
	zero, err := Load(write(t, dir, "zero.yaml", "edge: {id: sub7}\nsettingsFile: settings.json\nforwarder: {linger: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := zero.Forwarder.linger(); got != 0 {
		t.Errorf("forwarder.linger: 0: got %s, want 0 (send at once)", got)
	}
	doc := cfg.DocumentOf(0)
	if doc != (settings.Document{Layer: "modbus", Collection: "panasonic", ID: "127-0-0-1-1"}) {
		t.Fatalf("default document %+v", doc)
	}
	if u := SlaveURL(&cfg.Settings.ModbusSlaves[0]); u != "tcp://127.0.0.1:1502" {
		t.Fatalf("slave URL %q", u)
	}
	serial := settings.Slave{SerialPort: "/dev/ttyUSB0", BaudRate: 9600, Parity: "even", StopBits: 1, SlaveID: 3}
	if u := SlaveURL(&serial); u != "rtu:///dev/ttyUSB0?baud=9600&parity=E&stopbits=1" {
		t.Fatalf("serial URL %q", u)
	}
}

func TestLoadFromSETTINGSEnvironment(t *testing.T) {
	t.Setenv(settings.EnvVar, fmt.Sprintf(settingsDoc, 1502))
	dir := t.TempDir()
	cfg, err := Load(write(t, dir, "agent.json", `{"edge":{"id":"e1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Settings.ModbusSlaves) != 1 {
		t.Fatalf("settings from env: %+v", cfg.Settings)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, 1502))
	tests := []struct{ cfg, want string }{
		{"edge: {id: 'a.b'}\nsettingsFile: settings.json", "edge.id"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'http://x'}", "hub.url"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'nats-leaf://x:7422'}", "hub.password: is required"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'nats-leaf://x:7422', urls: ['nats-leaf://y:7422', 'http://z'], password: secret-pw}", "hub.urls[1]: \"http://z\" is not a leaf-node URL"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {urls: ['nats-leaf://y:7422']}", "hub.password: is required"},
		{"edge: {id: e}\nsettingsFile: settings.json\nbuffer: {overflow: drop-newest}", "buffer.overflow"},
		{"edge: {id: e}\nsettingsFile: settings.json\nbuffer: {maxAge: soon}", "buffer.maxAge"},
		{"edge: {id: e}\nsettingsFile: missing.json", "settingsFile"},
		{"edge: {id: e}\nsettingsFile: settings.json\nheartbeat: {interval: 1ms}", "heartbeat.interval"},
		{"edge: {id: e}\nsettingsFile: settings.json\nforwarder: {linger: 1m}", "forwarder.linger"},
		{"edge: {id: e}\nsettingsFile: settings.json\ngcPercent: -1", "gcPercent: -1 is negative"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'nats-leaf://x:7422', password: secret-pw, compression: zstd}", "hub.compression: \"zstd\" is not one of off, s2_auto"},
		{"edge: {id: e}\nsettingsFile: settings.json\ncolour: red", "colour: unknown field"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'nats-leaf://x:7422', password: secret-pw, requireTLS: true}", "hub.url: \"nats-leaf://x:7422\" is a plaintext link but hub.requireTLS is set"},
		{"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'tls://x:7422', password: secret-pw, certFile: e.pem}", "hub.certFile"},
		{"edge: {id: e}\nsettingsFile: settings.json\nnats: {tls: {certFile: bus.pem}}", "nats.tls"},
	}
	for i, tt := range tests {
		_, err := Load(write(t, dir, fmt.Sprintf("c%d.yaml", i), tt.cfg))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %q: error %v, want it to name %q", tt.cfg, err, tt.want)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Without a hub, the agent keeps polling and buffering, and local apps get
// live readings from its NATS port.
func TestStandaloneAgentBuffersAndServesLiveReadings(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 42, 0, 3)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = (&modbus.Server{Handler: mem, Logger: quiet}).Serve(ctx, l) }()

	dir := t.TempDir()
	natsPort := freePort(t)
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, l.Addr().(*net.TCPAddr).Port))
	cfg, err := Load(write(t, dir, "agent.yaml", fmt.Sprintf("edge: {id: e1}\ndomain: t\ndataDir: %s\nnats: {listen: '127.0.0.1:%d'}\nsettingsFile: settings.json\nheartbeat: {interval: 100ms}\n",
		filepath.Join(dir, "data"), natsPort)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	live, err := nc.SubscribeSync(subject.LiveAll("t", "e1"))
	if err != nil {
		t.Fatal(err)
	}
	hb, err := nc.SubscribeSync(subject.Heartbeat("t", "e1"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := live.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no live reading: %v", err)
	}
	var u model.Update
	if err := json.Unmarshal(msg.Data, &u); err != nil {
		t.Fatal(err)
	}
	m, _ := u.Set["measurements.temperature"].(map[string]any)
	if m["value"] != 42.0 || msg.Subject != "t.live.e1.modbus.panasonic.127-0-0-1-1" {
		t.Fatalf("live reading on %s: %s", msg.Subject, msg.Data)
	}
	// a heartbeat may leave between a poll and the buffering of its
	// readings: wait for one that shows them
	var st Status
	for deadline := time.Now().Add(5 * time.Second); ; {
		hmsg, err := hb.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("no heartbeat with buffered readings: %v; last %+v", err, st)
		}
		if err := json.Unmarshal(hmsg.Data, &st); err != nil {
			t.Fatal(err)
		}
		if st.Buffer.Depth > 0 {
			break
		}
	}
	if st.Edge != "e1" || st.HubConnected || len(st.Slaves) != 1 || !st.Slaves[0].Up {
		t.Fatalf("heartbeat %+v", st)
	}
}

func TestReloadSwapsRulesAndRefusesBadOnes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, freePort(t)))
	base := "edge: {id: e1}\ndataDir: " + filepath.Join(dir, "data") + "\nnats: {listen: 'off'}\nsettingsFile: settings.json\n"
	cfg, err := Load(write(t, dir, "a.yaml", base))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	good, err := Load(write(t, dir, "b.yaml", base+"rules:\n  - id: hot\n    match: {fields: [temperature]}\n    detect: {type: range, max: 80}\n    actions: [{type: flag}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(good); err != nil {
		t.Fatal(err)
	}
	st, _ := a.Status()
	if _, ok := st.Rules["hot"]; !ok {
		t.Fatalf("rule not loaded: %v", st.Rules)
	}
	bad := *good
	bad.Rules = append(bad.Rules, bad.Rules[0])
	bad.Rules[1].ID = "broken"
	bad.Rules[1].Detect.Type = "expression"
	bad.Rules[1].Detect.Condition = "value >"
	if err := a.Reload(&bad); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("bad rule: %v", err)
	}
	st, _ = a.Status()
	if _, ok := st.Rules["broken"]; ok || len(st.Rules) != 1 {
		t.Fatalf("rules after a refused reload: %v", st.Rules)
	}
}

// Relative TLS file names are resolved against the config file's
// directory, and a TLS hub URL satisfies hub.requireTLS.
func TestTLSFilesResolvedAndRequireTLS(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, 1502))
	cfg, err := Load(write(t, dir, "agent.yaml", "edge: {id: e}\nsettingsFile: settings.json\n"+
		"hub: {url: 'tls://hub:7422', password: secret-pw, requireTLS: true, caFile: ca.pem, certFile: e.pem, keyFile: /etc/e.key}\n"+
		"nats: {tls: {certFile: bus.pem, keyFile: bus.key, caFile: apps-ca.pem}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"hub.caFile", cfg.Hub.CAFile, filepath.Join(dir, "ca.pem")},
		{"hub.certFile", cfg.Hub.CertFile, filepath.Join(dir, "e.pem")},
		{"hub.keyFile", cfg.Hub.KeyFile, "/etc/e.key"},
		{"nats.tls.certFile", cfg.NATS.TLS.CertFile, filepath.Join(dir, "bus.pem")},
		{"nats.tls.keyFile", cfg.NATS.TLS.KeyFile, filepath.Join(dir, "bus.key")},
		{"nats.tls.caFile", cfg.NATS.TLS.CAFile, filepath.Join(dir, "apps-ca.pem")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}
