package mqtt_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/hub/bridge/mqtt"
	"github.com/gridedge/gridedge/shared/config"
)

func TestTopic(t *testing.T) {
	tests := []struct {
		e    bridge.Event
		want string
	}{
		{bridge.Event{Layer: "gridflex", Collection: "meters", ID: "M1"}, "gw/gridflex/meters/M1"},
		{bridge.Event{Layer: "gridflex", Collection: "meters", Op: "drop"}, "gw/gridflex/meters"},
		{bridge.Event{Layer: "gridflex", Collection: "meters", ID: "a/b+c#d%e"}, "gw/gridflex/meters/a%2Fb%2Bc%23d%25e"},
	}
	for _, tc := range tests {
		if got := mqtt.Topic("gw", &tc.e); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ url, err string }{
		{"mqtt://broker:1883", ""},
		{"mqtts://u:p@broker", ""},
		{"http://broker", "is not an mqtt:// or mqtts:// URL"},
		{"mqtt://:1883", "has no host"},
	}
	for _, tc := range tests {
		_, err := mqtt.URL(tc.url)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %v, want %q", tc.url, err, tc.err)
		}
	}
}

// broker is a mosquitto process that can be stopped and started again on
// the same port, keeping its sessions and queued messages on disk.
type broker struct {
	t    testing.TB
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

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

func newBroker(t testing.TB) *broker {
	t.Helper()
	b := &broker{t: t, bin: findMosquitto(t)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	_, port, _ := net.SplitHostPort(b.addr)
	_ = l.Close()
	dir := t.TempDir()
	b.conf = filepath.Join(dir, "mosquitto.conf")
	lines := []string{"listener " + port + " 127.0.0.1", "allow_anonymous true", "persistence true",
		"persistence_location " + dir + "/", "max_queued_messages 100000", "log_dest stderr", "log_type error"}
	if u, err := user.Current(); err == nil {
		lines = append(lines, "user "+u.Username) // as root, do not switch to the mosquitto user
	}
	if err := os.WriteFile(b.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("mosquitto stderr:\n%s", b.log.String())
		}
	})
	return b
}

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stderr = &b.log
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(b.cmd, b.done)
	bridgetest.Eventually(b.t, 15*time.Second, "mosquitto listening", func() bool {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

// stop ends mosquitto with SIGTERM, which saves its persistence file.
func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// subscriber is the other platform: a persistent MQTT session on
// <prefix>/#, reconnecting after the broker restarts, that tallies the
// events it receives and checks topics and properties.
type subscriber struct {
	t     *testing.T
	tally *bridgetest.Tally
	mu    sync.Mutex
	bad   []string
}

func subscribe(t *testing.T, addr, filter string) *subscriber {
	t.Helper()
	s := &subscriber{t: t, tally: bridgetest.NewTally()}
	u, _ := url.Parse("mqtt://" + addr)
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{}, 1)
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, ReconnectBackoff: autopaho.NewConstantBackoff(50 * time.Millisecond),
		CleanStartOnInitialConnection: true, SessionExpiryInterval: 3600,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			defer scancel()
			if _, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil && ctx.Err() == nil {
				t.Errorf("subscribe: %v", err)
			}
			select {
			case up <- struct{}{}:
			default:
			}
		},
		ClientConfig: paho.ClientConfig{ClientID: "platform",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				s.received(pr.Packet)
				return true, nil
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cm.Disconnect(dctx)
		dcancel()
		cancel()
	})
	select {
	case <-up:
	case <-time.After(15 * time.Second):
		t.Fatal("subscriber not connected")
	}
	return s
}

func (s *subscriber) received(p *paho.Publish) {
	if err := s.tally.Add(p.Payload); err != nil {
		s.t.Error(err)
		return
	}
	var key, ctype string
	if p.Properties != nil {
		key, ctype = p.Properties.User.Get(bridge.HeaderKey), p.Properties.ContentType
	}
	if !strings.HasPrefix(p.Topic, "gw/gridflex/") || key == "" || ctype != "application/json" || p.QoS != 1 {
		s.mu.Lock()
		s.bad = append(s.bad, p.Topic+" key="+key+" content-type="+ctype)
		s.mu.Unlock()
	}
}

func TestMQTTForwardsThroughBrokerRestart(t *testing.T) {
	b := newBroker(t)
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters", "generators")
	env.Layer(t, "other", "things")
	sub := subscribe(t, b.addr, "gw/#")
	cfg := bridge.Config{Name: "mq", Type: bridge.TypeMQTT, URL: "mqtt://" + b.addr, Topic: "gw", Direction: bridge.Out,
		Layers: []string{"gridflex"}, Batch: 50, MaxBackoff: config.Duration(200 * time.Millisecond), Timeout: config.Duration(5 * time.Second)}
	var es config.Errors
	cfg.Defaults()
	cfg.Validate("bridges[0]", &es)
	if err := es.Err(); err != nil {
		t.Fatal(err)
	}
	pub, err := mqtt.NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o, stop := env.StartOutbound(t, cfg, pub)

	env.Write(t, "gridflex", "meters", 0, 300)
	env.Write(t, "other", "things", 0, 50) // not a bridged layer
	sub.tally.WaitIDs(t, 300, 20*time.Second)

	// the broker stops mid-stream and starts again: the bridge retries
	// until PUBACKs come, the platform's session gets what was queued
	env.Write(t, "gridflex", "generators", 1000, 1100)
	b.stop()
	env.Write(t, "gridflex", "generators", 1100, 1200)
	bridgetest.Eventually(t, 10*time.Second, "a failed send", func() bool { return o.Stats().Failures > 0 })
	b.start()
	sub.tally.WaitIDs(t, 500, 30*time.Second)

	// the hub stops and starts again: the durable consumer resumes
	stop()
	env.Write(t, "gridflex", "meters", 300, 400)
	pub2, err := mqtt.NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, stop2 := env.StartOutbound(t, cfg, pub2)
	defer stop2()
	sub.tally.WaitIDs(t, 600, 20*time.Second)

	keys, dups, ids := sub.tally.Distinct()
	if keys != 600 || ids != 600 {
		t.Errorf("got %d keys for %d documents, want 600 changes of 600 documents (none of the other layer)", keys, ids)
	}
	sub.mu.Lock()
	if len(sub.bad) > 0 {
		t.Errorf("%d messages with a wrong topic, key, content type or QoS, first %s", len(sub.bad), sub.bad[0])
	}
	sub.mu.Unlock()
	t.Logf("delivered %d changes, %d duplicates, %d failed sends across the broker restart", keys, dups, o.Stats().Failures)
}

func TestMQTTRetained(t *testing.T) {
	b := newBroker(t)
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters")
	cfg := bridge.Config{Name: "ret", Type: bridge.TypeMQTT, URL: "mqtt://" + b.addr, Topic: "gw", Retain: true,
		Direction: bridge.Out, Layers: []string{"gridflex"}}
	pub, err := mqtt.NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := env.StartOutbound(t, cfg, pub)
	env.Write(t, "gridflex", "meters", 0, 20)
	bridgetest.Eventually(t, 15*time.Second, "20 events sent", func() bool { return o.Stats().Sent >= 20 })
	// a subscriber arriving later gets the latest message of every document
	sub := subscribe(t, b.addr, "gw/gridflex/meters/+")
	sub.tally.WaitIDs(t, 20, 15*time.Second)
}
