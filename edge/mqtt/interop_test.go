package mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/modbus"
)

// findTool looks a Debian tool up in PATH and in the sbin directories,
// which are not always in a test's PATH.
func findTool(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	return "", false
}

// requirePeer skips the test when an interop peer is missing, or fails it
// when GRIDEDGE_REQUIRE_INTEROP=1.
func requirePeer(t *testing.T, name, install string) string {
	t.Helper()
	p, ok := findTool(name)
	if !ok {
		msg := fmt.Sprintf("%s not installed: %s", name, install)
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// startMosquitto runs mosquitto on a free loopback port with the given
// extra configuration lines and returns its address.
func startMosquitto(t *testing.T, bin string, extra ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	lines := []string{"listener " + port + " 127.0.0.1", "persistence false", "log_dest stderr", "log_type error", "log_type warning"}
	if u, err := user.Current(); err == nil {
		// Run as root, mosquitto would switch to its own user, which cannot
		// read t.TempDir(); naming the current user keeps it (and is
		// ignored when not root).
		lines = append(lines, "user "+u.Username)
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
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto stderr:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("mosquitto exited: %v\n%s", waitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMosquittoInterop runs the seed's example against a real mosquitto:
// publication, a write command, a refused command and its error report.
func TestMosquittoInterop(t *testing.T) {
	bin := requirePeer(t, "mosquitto", "apt-get install mosquitto")
	addr := startMosquitto(t, bin, "allow_anonymous true")

	s := loadSettings(t, "panasonic.json", "mqtt://"+addr)
	s.MQTT.Credentials = nil
	// The seed writes these variables; GridEdge writes only variables
	// marked writable, numeric ones with bounds.
	markWritable(t, s, "PANASONIC", "temperature", 5, 35)
	markWritable(t, s, "PANASONIC", "luminance", 0, 1000)
	markWritable(t, s, "PANASONIC", "mode", 1, 3)
	dev := startDevice(t)
	dev.mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21, 45, 1)
	b, err := New(s, NewDeviceWriter(s, dev.bus()), Options{ClientID: "edge-mosquitto", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	obs := connectPeer(t, addr, "", "")
	obs.subscribe("SENSOR_ABC/#")
	runBridge(t, b)
	eventually(t, "subscriptions at mosquitto", func() bool { return b.Stats().Subscribed })

	u := pollOnce(t, s, dev)
	u.TS = time.Date(2021, 7, 28, 5, 48, 17, 103_000_000, time.UTC)
	dev.mem.SetRegisters(1, modbus.HoldingRegisters, 3, 3)
	u = pollOnce(t, s, dev)
	u.TS = time.Date(2021, 7, 28, 5, 48, 17, 103_000_000, time.UTC)
	b.Publish(0, u)
	want, err := os.ReadFile(filepath.Join("testdata", "panasonic_status.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, obs.next("SENSOR_ABC/STATUS").Payload, want)

	dev.mem.SetRegisters(1, modbus.HoldingRegisters, 3, 1) // COLD
	obs.publish("SENSOR_ABC/THERMOSTAT", `{"mode": "HEAT", "temperature": 19}`)
	eventually(t, "the write", func() bool { return b.Stats().Writes == 2 })
	if got := dev.mem.Registers(1, modbus.HoldingRegisters, 1, 3); got[0] != 19 || got[2] != 2 {
		t.Errorf("registers 1..3 = %v, want 19, _, 2", got)
	}

	obs.publish("SENSOR_ABC/DIMMING", `{"luminance": 455}`) // 45.5 × 10: not an integer
	var r ErrorReport
	if err := json.Unmarshal(obs.next("SENSOR_ABC/DIMMING/error").Payload, &r); err != nil {
		t.Fatal(err)
	}
	if r.Topic != "SENSOR_ABC/DIMMING" || r.Variable != "luminance" || r.Value != 455.0 || !strings.Contains(r.Error, "not an integer") {
		t.Errorf("error report %+v", r)
	}
	if got := dev.mem.Registers(1, modbus.HoldingRegisters, 2, 1)[0]; got != 45 {
		t.Errorf("luminance register = %d after a refused write, want 45", got)
	}
}

// TestMosquittoCredentials: mosquitto with a password file accepts the
// SETTINGS credentials and refuses wrong ones.
func TestMosquittoCredentials(t *testing.T) {
	bin := requirePeer(t, "mosquitto", "apt-get install mosquitto")
	passwd := requirePeer(t, "mosquitto_passwd", "apt-get install mosquitto")
	pwFile := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pwFile, "etra", "etra").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	addr := startMosquitto(t, bin, "allow_anonymous false", "password_file "+pwFile)
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{{"right", "etra", true}, {"wrong", "nope", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSettings(t, "panasonic.json", addr)
			s.MQTT.Credentials.Password = tc.password
			s.ModbusSlaves[0].MQTTSubscriptions = nil
			b, err := New(s, nil, Options{ClientID: "edge-mosquitto-" + tc.name, Logger: testLogger(t),
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
			if st := b.Stats(); st.Connected || !strings.Contains(st.LastError, "denied") {
				t.Errorf("stats %+v: want refused", st)
			}
		})
	}
}
