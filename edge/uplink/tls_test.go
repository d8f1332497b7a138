package uplink

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/tlsconf"
	"github.com/gridedge/gridedge/shared/tlstest"
)

// tlsHub is a hub-like server whose leaf listener requires TLS with
// hubCA's certificate and client certificates signed by edgeCA.
func tlsHub(t *testing.T, hubCA, edgeCA *tlstest.CA) (port int, srv *server.Server) {
	t.Helper()
	hubCA.Server(t, "hub", "hub.pem", "hub.key")
	tc, _, err := tlsconf.Server("nats.leafTLS", tlsconf.Files{CertFile: hubCA.Path("hub.pem"), KeyFile: hubCA.Path("hub.key"), CAFile: edgeCA.CertFile}, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv, err = server.NewServer(&server.Options{Port: -1, NoSigs: true, NoLog: true,
		Users:    []*server.User{{Username: "e1", Password: "pw"}},
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: port, TLSConfig: tc, TLSTimeout: 5}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return port, srv
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// Attack test of the leaf link with mutual TLS: an edge that does not
// trust the hub's CA, or has no client certificate, or one from another CA,
// never links; an edge with the hub's CA and its client certificate does.
func TestLeafMutualTLS(t *testing.T) {
	hubCA, edgeCA, rogueCA := tlstest.NewCA(t, "hub"), tlstest.NewCA(t, "edges"), tlstest.NewCA(t, "rogue")
	edgeCA.Client(t, "e1", "e1.pem", "e1.key")
	rogueCA.Client(t, "e1", "e1.pem", "e1.key")
	port, hub := tlsHub(t, hubCA, edgeCA)
	url := fmt.Sprintf("tls://127.0.0.1:%d", port)
	start := func(o LeafOptions) *Leaf {
		t.Helper()
		o.Edge, o.HubURL, o.User, o.Password, o.Domain, o.Logger, o.RequireTLS = "e1", url, "e1", "pw", "d", quietLog, true
		l, err := StartLeaf(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Shutdown)
		return l
	}
	refused := map[string]*Leaf{
		"untrusting":     start(LeafOptions{CertFile: edgeCA.Path("e1.pem"), KeyFile: edgeCA.Path("e1.key")}),
		"no client cert": start(LeafOptions{CAFile: hubCA.CertFile}),
		"rogue client":   start(LeafOptions{CAFile: hubCA.CertFile, CertFile: rogueCA.Path("e1.pem"), KeyFile: rogueCA.Path("e1.key")}),
	}
	time.Sleep(1500 * time.Millisecond)
	for name, l := range refused {
		if l.HubConnected() {
			t.Errorf("%s: linked to the hub, want a refusal", name)
		}
	}
	if n := hub.NumLeafNodes(); n != 0 {
		t.Fatalf("%d leaf nodes linked without valid mutual TLS", n)
	}
	good := start(LeafOptions{CAFile: hubCA.CertFile, CertFile: edgeCA.Path("e1.pem"), KeyFile: edgeCA.Path("e1.key")})
	deadline := time.Now().Add(10 * time.Second)
	for !good.HubConnected() {
		if time.Now().After(deadline) {
			t.Fatal("the edge with the CA and its client certificate did not link")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RequireTLS refuses a plaintext hub link at start.
func TestRequireTLSRefusesPlaintextHub(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	cases := []struct {
		url, caFile string
		wantErr     bool
	}{
		{"nats-leaf://127.0.0.1:1", "", true},
		{"nats://127.0.0.1:1", "", true},
		{"tls://127.0.0.1:1", "", false},
		{"nats-leaf://127.0.0.1:1", ca.CertFile, false},
	}
	for _, c := range cases {
		l, err := StartLeaf(LeafOptions{Edge: "e1", HubURL: c.url, User: "e1", Password: "pw", Domain: "d", CAFile: c.caFile, RequireTLS: true, Logger: quietLog})
		if err == nil {
			l.Shutdown()
		}
		if got := errors.Is(err, ErrPlaintextHub); got != c.wantErr {
			t.Errorf("%s (caFile %q): got error %v, want ErrPlaintextHub %v", c.url, c.caFile, err, c.wantErr)
		}
	}
}

// Attack test of the local bus with nats.tls: a plaintext client is
// refused, a client trusting the CA reads; a plaintext bus on a
// non-loopback address logs a WARNING.
func TestLocalBusTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "edge")
	ca.Server(t, "edge", "bus.pem", "bus.key")
	l, err := StartLeaf(LeafOptions{Edge: "e1", Domain: "d", LocalListen: "127.0.0.1:-1", AnonymousRead: true, Logger: quietLog,
		LocalTLS: &tlsconf.Files{CertFile: ca.Path("bus.pem"), KeyFile: ca.Path("bus.key")}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown()
	if !strings.HasPrefix(l.ClientURL(), "tls://") {
		t.Fatalf("local URL %s: want tls://", l.ClientURL())
	}
	if nc, err := nats.Connect("nats://"+strings.TrimPrefix(l.ClientURL(), "tls://"), nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a plaintext client connected to the TLS bus")
	}
	nc, err := nats.Connect(l.ClientURL(), nats.Secure(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("TLS client on the local bus: %v", err)
	}
	nc.Close()

	cases := []struct {
		listen    string
		tls       bool
		wantWarns int
	}{
		{"127.0.0.1:-1", false, 0},
		{":-1", false, 1},
		{":-1", true, 0},
	}
	for _, c := range cases {
		var buf syncBuffer
		o := LeafOptions{Edge: "e1", Domain: "d", LocalListen: c.listen, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
		if c.tls {
			o.LocalTLS = &tlsconf.Files{CertFile: ca.Path("bus.pem"), KeyFile: ca.Path("bus.key")}
		}
		l, err := StartLeaf(o)
		if err != nil {
			t.Fatal(err)
		}
		l.Shutdown()
		got := buf.String()
		if n := strings.Count(got, "WARNING"); n != c.wantWarns || (n > 0 && !strings.Contains(got, "set nats.tls")) {
			t.Errorf("listen %s, TLS %v: got %d WARNINGs, want %d naming nats.tls:\n%s", c.listen, c.tls, n, c.wantWarns, got)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
