package iot

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

const waitTimeout = 15 * time.Second

// findMosquitto looks mosquitto up in PATH and the sbin directories; it
// skips the test when it is missing, and fails it when
// GRIDEDGE_REQUIRE_INTEROP=1.
func findMosquitto(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, "mosquitto")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := "mosquitto not installed: scripts/install-test-deps.sh (Debian package mosquitto)"
	if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startMosquitto runs mosquitto on a free loopback port and returns its
// address; extra are more configuration lines.
func startMosquitto(t testing.TB, extra ...string) string {
	t.Helper()
	bin := findMosquitto(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	lines := []string{"listener " + port + " 127.0.0.1", "allow_anonymous true", "persistence false", "log_dest stderr", "log_type error"}
	if u, err := user.Current(); err == nil {
		lines = append(lines, "user "+u.Username) // as root, do not switch to the mosquitto user
	}
	lines = append(lines, extra...)
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto stderr:\n%s", stderr.String())
		}
	})
	waitFor(t, "mosquitto listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return addr
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// device is an MQTT device: a paho client that records what it receives.
type device struct {
	c   *paho.Client
	mu  sync.Mutex
	got map[string][]string
}

func connectDevice(t testing.TB, addr, id string) *device {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{got: map[string][]string{}}
	d.c = paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			d.mu.Lock()
			d.got[pr.Packet.Topic] = append(d.got[pr.Packet.Topic], string(pr.Packet.Payload))
			d.mu.Unlock()
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := d.c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.c.Disconnect(&paho.Disconnect{}) })
	return d
}

func (d *device) publish(t testing.TB, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := d.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

func (d *device) received(topic string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got[topic]...)
}

// measurement returns a document's measurement value, or nil.
func (h *harness) measurement(layer, col, id, name string) any {
	doc, err := h.st.Get(context.Background(), layer, col, id)
	if err != nil {
		return nil
	}
	ms, _ := doc["measurements"].(map[string]any)
	m, _ := ms[name].(map[string]any)
	return m["value"]
}

// TestMQTTBinding runs the MQTT binding against mosquitto: measures on
// <apikey>/<deviceId>/attrs (and /attrs/<attr>, and with a leading '/'),
// a device token in the topic, a command sent over …/cmd and its result
// on …/cmdexe.
func TestMQTTBinding(t *testing.T) {
	addr := startMosquitto(t)
	h := newHarness(t, func(c *Config) { c.MQTT.URL = "mqtt://" + addr })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the binding's subscriptions", h.svc.mqttReady.Load)

	hd := h.fiware("smartcity", "/")
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"k1","resource":"/iot/json","entity_type":"Sensor",
	 "attributes":[{"object_id":"t","name":"temperature","expression":"t / 10"}],"commands":[{"name":"ping","type":"command"}]}]}`, hd)
	dev := connectDevice(t, addr, "dev1")
	dev.publish(t, "k1/dev1/attrs", `{"t":215}`)
	waitFor(t, "temperature of dev1", func() bool { return h.measurement("smartcity", "Sensor", "Sensor:dev1", "temperature") == 21.5 })
	dev.publish(t, "k1/dev1/attrs/h", `55`)
	waitFor(t, "h of dev1", func() bool { return h.measurement("smartcity", "Sensor", "Sensor:dev1", "h") == 55.0 })
	dev.publish(t, "/k1/dev1/attrs", `{"t":100}`)
	waitFor(t, "the leading '/' form", func() bool { return h.measurement("smartcity", "Sensor", "Sensor:dev1", "temperature") == 10.0 })

	// a device with a token: without it the message is refused
	h.must(200, "POST", PathDevices, `{"devices":[{"device_id":"kit","apikey":"k1"}]}`, hd)
	tok := h.must(201, "POST", PathDevices+"/kit/token", nil, hd)["token"].(string)
	kit := connectDevice(t, addr, "kit")
	before := h.svc.Stats().Refused
	kit.publish(t, "k1/kit/attrs", `{"t":1}`)
	waitFor(t, "the refusal of a reading without token", func() bool { return h.svc.Stats().Refused > before })
	if v := h.measurement("smartcity", "Sensor", "Sensor:kit", "temperature"); v != nil {
		t.Fatalf("a reading without token was stored: %v", v)
	}
	kit.publish(t, fmt.Sprintf("k1/kit/%s/attrs", tok), `{"t":300}`)
	waitFor(t, "temperature of kit", func() bool { return h.measurement("smartcity", "Sensor", "Sensor:kit", "temperature") == 30.0 })

	// a command: published on …/cmd, PENDING until …/cmdexe answers
	ctxSub, cancelSub := context.WithTimeout(context.Background(), waitTimeout)
	defer cancelSub()
	if _, err := kit.c.Subscribe(ctxSub, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "k1/kit/cmd", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	h.wantError(400, NameWrongSyntax, "POST", PathDevices+"/kit/commands", `{"reboot":true}`, hd)
	h.must(200, "POST", PathDevices+"/kit/commands", `{"ping":"hello"}`, hd)
	waitFor(t, "the command at the device", func() bool { return len(kit.received("k1/kit/cmd")) == 1 })
	if got := kit.received("k1/kit/cmd")[0]; got != `{"ping":"hello"}` {
		t.Errorf("command payload %s", got)
	}
	if v := h.measurement("smartcity", "Sensor", "Sensor:kit", "ping_status"); v != "PENDING" {
		t.Errorf("ping_status = %v, want PENDING", v)
	}
	h.clock.Add(time.Second)
	kit.publish(t, fmt.Sprintf("k1/kit/%s/cmdexe", tok), `{"ping":"pong"}`)
	waitFor(t, "the command's result", func() bool { return h.measurement("smartcity", "Sensor", "Sensor:kit", "ping_status") == "OK" })
	if v := h.measurement("smartcity", "Sensor", "Sensor:kit", "ping_info"); v != "pong" {
		t.Errorf("ping_info = %v, want pong", v)
	}
}
