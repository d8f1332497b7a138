package mqtt

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
)

// waitTimeout bounds every wait for something asynchronous; tests never
// sleep for a fixed time to let things happen.
const waitTimeout = 10 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// loadSettings reads testdata/name and points its broker at host.
func loadSettings(t *testing.T, name, host string) *settings.Settings {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := settings.Load(data)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	s.MQTT.Host = host
	return s
}

// broker is an in-process mochi broker.
type broker struct {
	srv  *mochi.Server
	addr string
	once sync.Once
}

// close stops the broker (once).
func (b *broker) close() { b.once.Do(func() { _ = b.srv.Close() }) }

type brokerOptions struct {
	addr  string      // "" for 127.0.0.1:0
	users auth.Users  // nil: anyone may connect
	tls   *tls.Config // nil: plain TCP
}

// startBroker starts a mochi broker on opts.addr and closes it at cleanup.
func startBroker(t *testing.T, opts brokerOptions) *broker {
	t.Helper()
	if opts.addr == "" {
		opts.addr = "127.0.0.1:0"
	}
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if opts.users != nil {
		err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Users: opts.users, ACL: auth.ACLRules{{}}}})
		if err != nil {
			t.Fatal(err)
		}
	} else if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	var l *listeners.TCP
	// A restarted broker binds the port its predecessor just released.
	deadline := time.Now().Add(waitTimeout)
	for {
		l = listeners.NewTCP(listeners.Config{ID: "tcp", Address: opts.addr, TLSConfig: opts.tls})
		err := srv.AddListener(l)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker listen %s: %v", opts.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	go func() { _ = srv.Serve() }()
	b := &broker{srv: srv, addr: l.Address()}
	t.Cleanup(b.close)
	return b
}

// peer is a plain paho client standing for a user of the broker.
type peer struct {
	t    *testing.T
	cli  *paho.Client
	msgs chan *paho.Publish
}

func connectPeer(t *testing.T, addr, user, pass string) *peer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("peer dial %s: %v", addr, err)
	}
	p := &peer{t: t, msgs: make(chan *paho.Publish, 1000)}
	p.cli = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			p.msgs <- pr.Packet
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: fmt.Sprintf("peer-%s-%d", t.Name(), time.Now().UnixNano()), CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.UsernameFlag, cp.Username = true, user
		cp.PasswordFlag, cp.Password = true, []byte(pass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := p.cli.Connect(ctx, cp); err != nil {
		t.Fatalf("peer connect %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = p.cli.Disconnect(&paho.Disconnect{}) })
	return p
}

func (p *peer) subscribe(filters ...string) {
	p.t.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := p.cli.Subscribe(ctx, s); err != nil {
		p.t.Fatalf("peer subscribe %v: %v", filters, err)
	}
}

func (p *peer) publish(topic string, payload string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := p.cli.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
		p.t.Fatalf("peer publish %s: %v", topic, err)
	}
}

// next returns the next message received on topic, skipping others.
func (p *peer) next(topic string) *paho.Publish {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-p.msgs:
			if m.Topic == topic {
				return m
			}
		case <-timer.C:
			p.t.Fatalf("no message on %s within %v", topic, waitTimeout)
			return nil
		}
	}
}

// drain forgets the messages received so far.
func (p *peer) drain() {
	for {
		select {
		case <-p.msgs:
		default:
			return
		}
	}
}

// device is a Modbus TCP server with an in-memory image, and a client to it.
type device struct {
	mem    *modbus.Memory
	client *modbus.Client
	addr   string
}

func startDevice(t *testing.T) *device {
	t.Helper()
	return startSlowDevice(t, 0)
}

// startSlowDevice is startDevice with a device that takes delay to answer
// every request, as a device on a slow serial line does.
func startSlowDevice(t *testing.T, delay time.Duration) *device {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mem := modbus.NewMemory()
	var h modbus.Handler = mem
	if delay > 0 {
		h = modbus.HandlerFunc(func(ctx context.Context, unit byte, req modbus.PDU) (modbus.PDU, error) {
			time.Sleep(delay)
			return mem.HandleModbus(ctx, unit, req)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&modbus.Server{Handler: h}).Serve(ctx, l)
	}()
	c, err := modbus.NewClient("tcp://"+l.Addr().String(), modbus.ClientOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-done
	})
	return &device{mem: mem, client: c, addr: l.Addr().String()}
}

// bus is the simplest Bus: every slave is the one device, no scheduler.
func (d *device) bus() Bus {
	return func(ctx context.Context, _ int, fn func(context.Context, Device) error) error {
		return fn(ctx, d.client)
	}
}

// runBridge starts b.Run and stops it at cleanup, checking that Run returns nil.
func runBridge(t *testing.T, b *Bridge) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(waitTimeout):
				t.Errorf("Run did not return within %v after cancel", waitTimeout)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds or the wait times out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func durationOf(d time.Duration) config.Duration { return config.Duration(d) }

// unlimited are write limits no test reaches.
var unlimited = WriteLimits{Variable: RateLimit{Rate: 1e6, Burst: 1e6}, Bus: RateLimit{Rate: 1e6, Burst: 1e6}}

// markWritable marks variable name of map m writable with bounds lo and hi,
// as a SETTINGS document written for GridEdge would.
func markWritable(t *testing.T, s *settings.Settings, m, name string, lo, hi float64) {
	t.Helper()
	for i := range s.ModbusMaps[m] {
		if v := &s.ModbusMaps[m][i]; v.Name == name {
			v.Writable, v.Min, v.Max = &[]bool{true}[0], &lo, &hi
			return
		}
	}
	t.Fatalf("map %s has no variable %s", m, name)
}
