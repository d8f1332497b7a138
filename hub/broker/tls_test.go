package broker

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/tlsconf"
	"github.com/gridedge/gridedge/shared/tlstest"
)

// startLeafNode starts an edge-like server whose leaf link goes to u with
// tc (nil: plaintext), stopped at the end of the test.
func startLeafNode(t *testing.T, name string, u *url.URL, tc *tls.Config) {
	t.Helper()
	remote := &server.RemoteLeafOpts{URLs: []*url.URL{u}}
	if tc != nil {
		remote.TLS, remote.TLSConfig = true, tc
	}
	srv, err := server.NewServer(&server.Options{ServerName: name, Port: -1, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{remote}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	srv.ReadyForConnections(5 * time.Second)
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
}

func waitLeafNodes(t *testing.T, b *Broker, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.NumLeafNodes() != want {
		if time.Now().After(deadline) {
			t.Fatalf("leaf nodes: got %d, want %d", b.NumLeafNodes(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Attack test of the leaf listener with nats.leafTLS and a CA file: a
// plaintext leaf, one that does not trust the hub's certificate and one
// without a client certificate from the CA never connect; an edge with one
// does.
func TestLeafTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	ca.Server(t, "gridedge-hub", "hub.pem", "hub.key")
	edgeCA := tlstest.NewCA(t, "edges")
	edgeCA.Client(t, "e1", "e1.pem", "e1.key")
	rogueCA := tlstest.NewCA(t, "rogue")
	rogueCA.Client(t, "e1", "e1.pem", "e1.key")
	b, err := Start(Options{Domain: "d", ServerName: "hub", LeafListen: "127.0.0.1:0", StoreDir: t.TempDir(),
		LeafTLS: &tlsconf.Files{CertFile: ca.Path("hub.pem"), KeyFile: ca.Path("hub.key"), CAFile: edgeCA.CertFile},
		Edges:   []EdgeCredential{{ID: "e1", Password: "secret-1-long"}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	u, _ := url.Parse(b.LeafURL())
	if u.Scheme != "tls" {
		t.Fatalf("leaf URL %s: want a tls:// URL", b.LeafURL())
	}
	u.User = url.UserPassword("e1", "secret-1-long")
	trusting := func(client *tlstest.CA) *tls.Config {
		tc := &tls.Config{ServerName: "127.0.0.1", RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		if client != nil {
			tc.Certificates = []tls.Certificate{tlstest.KeyPair(t, client.Path("e1.pem"), client.Path("e1.key"))}
		}
		return tc
	}
	startLeafNode(t, "plain", u, nil)
	startLeafNode(t, "untrusting", u, &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{tlstest.KeyPair(t, edgeCA.Path("e1.pem"), edgeCA.Path("e1.key"))}})
	startLeafNode(t, "no-client-cert", u, trusting(nil))
	startLeafNode(t, "rogue-client-cert", u, trusting(rogueCA))
	time.Sleep(time.Second)
	if n := b.NumLeafNodes(); n != 0 {
		t.Fatalf("%d leaf nodes connected without valid mutual TLS", n)
	}
	startLeafNode(t, "trusting", u, trusting(edgeCA))
	waitLeafNodes(t, b, 1)
}

// Attack test of the client port with nats.tls and a CA file: plaintext,
// a client that does not trust the hub and a client without a certificate
// from the CA are refused; a renewed certificate is served to the next
// connection without a restart; the hub's in-process services and its own
// dial (the REST /gateway) keep working.
func TestClientTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	first := ca.Server(t, "first", "nats.pem", "nats.key")
	ca.Client(t, "tool", "tool.pem", "tool.key")
	b, err := Start(Options{Domain: "d", ServerName: "hub", ClientListen: "127.0.0.1:-1", StoreDir: t.TempDir(), Logger: quiet,
		ClientTLS: &tlsconf.Files{CertFile: ca.Path("nats.pem"), KeyFile: ca.Path("nats.key"), CAFile: ca.CertFile},
		Users:     []ClientUser{{User: "tool", Password: "tool-secret", Publish: []string{"d.>"}, Subscribe: []string{"d.>"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	if !strings.HasPrefix(b.ClientURL(), "tls://") {
		t.Fatalf("client URL %s: want tls://", b.ClientURL())
	}
	plainURL := "nats://" + strings.TrimPrefix(b.ClientURL(), "tls://")
	creds := nats.UserInfo("tool", "tool-secret")
	toolCert := tlstest.KeyPair(t, ca.Path("tool.pem"), ca.Path("tool.key"))
	refused := []struct {
		name string
		url  string
		opts []nats.Option
	}{
		{"plaintext", plainURL, []nats.Option{creds}},
		{"untrusted server certificate", b.ClientURL(), []nats.Option{creds, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{toolCert}})}},
		{"no client certificate", b.ClientURL(), []nats.Option{creds, nats.RootCAs(ca.CertFile)}},
	}
	for _, c := range refused {
		if nc, err := nats.Connect(c.url, append(c.opts, nats.Timeout(3*time.Second))...); err == nil {
			if err = nc.Flush(); err == nil {
				nc.Close()
				t.Errorf("%s: connected, want a refusal", c.name)
				continue
			}
			nc.Close()
		}
	}
	ok := func() {
		t.Helper()
		nc, err := nats.Connect(b.ClientURL(), creds, nats.Secure(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{toolCert}, MinVersion: tls.VersionTLS12}))
		if err != nil {
			t.Fatalf("client with the CA and a client certificate: %v", err)
		}
		defer nc.Close()
		if err := nc.Publish("d.x", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatalf("flush over TLS: %v", err)
		}
	}
	ok()
	addr := strings.TrimPrefix(b.ClientURL(), "tls://")
	served := func() string {
		t.Helper()
		// NATS sends INFO in plaintext first; tls:// clients upgrade after it
		c, err := natsTLSPeer(addr, toolCert)
		if err != nil {
			t.Fatalf("TLS handshake with the client port: %v", err)
		}
		return c
	}
	if got := served(); got != first.Subject.CommonName {
		t.Fatalf("served %q, want %q", got, first.Subject.CommonName)
	}
	time.Sleep(1100 * time.Millisecond) // files are checked at most once a second
	ca.Server(t, "renewed", "nats.pem", "nats.key")
	if got := served(); got != "renewed" {
		t.Fatalf("after renewal served %q, want renewed", got)
	}
	ok()
	// the hub's in-process services and its own dial
	in, err := b.Connect("test")
	if err != nil {
		t.Fatalf("in-process connection with client TLS: %v", err)
	}
	in.Close()
	nc, err := nats.Connect("", append(b.LocalDialOptions(), creds)...)
	if err != nil {
		t.Fatalf("the hub's own dial to its TLS client port: %v", err)
	}
	nc.Close()
}

// natsTLSPeer reads the NATS INFO line in plaintext, then does the TLS
// handshake a tls:// client does, and returns the served certificate's
// common name.
func natsTLSPeer(addr string, clientCert tls.Certificate) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 0, 4096)
	one := make([]byte, 1)
	for !bytes.HasSuffix(buf, []byte("\r\n")) {
		if _, err := conn.Read(one); err != nil {
			return "", err
		}
		buf = append(buf, one[0])
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{clientCert}}) //nolint:gosec // inspects what is served
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	return tc.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// RequireTLS refuses to start a plaintext client or leaf listener.
func TestRequireTLSRefusesPlaintext(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	ca.Server(t, "hub", "hub.pem", "hub.key")
	files := &tlsconf.Files{CertFile: ca.Path("hub.pem"), KeyFile: ca.Path("hub.key")}
	cases := []struct {
		name               string
		client, leaf       string
		clientTLS, leafTLS *tlsconf.Files
		wantErr            bool
	}{
		{"plaintext client port", "127.0.0.1:-1", "", nil, nil, true},
		{"plaintext leaf port", "", "127.0.0.1:0", nil, nil, true},
		{"TLS client, plaintext leaf", "127.0.0.1:-1", "127.0.0.1:0", files, nil, true},
		{"both TLS", "127.0.0.1:-1", "127.0.0.1:0", files, files, false},
		{"no listener", "", "", nil, nil, false},
	}
	for _, c := range cases {
		b, err := Start(Options{Domain: "d", ClientListen: c.client, LeafListen: c.leaf, ClientTLS: c.clientTLS, LeafTLS: c.leafTLS,
			RequireTLS: true, StoreDir: t.TempDir(), Logger: quiet})
		if err == nil {
			b.Shutdown()
		}
		if got := errors.Is(err, ErrPlaintext); got != c.wantErr {
			t.Errorf("%s: got error %v, want ErrPlaintext %v", c.name, err, c.wantErr)
		}
	}
}

// A plaintext listener on a non-loopback address logs a WARNING naming the
// setting to fix; a loopback or TLS listener does not.
func TestPlaintextWarning(t *testing.T) {
	ca := tlstest.NewCA(t, "hub")
	ca.Server(t, "hub", "hub.pem", "hub.key")
	files := &tlsconf.Files{CertFile: ca.Path("hub.pem"), KeyFile: ca.Path("hub.key")}
	cases := []struct {
		name               string
		client, leaf       string
		clientTLS, leafTLS *tlsconf.Files
		want               []string
	}{
		{"loopback", "127.0.0.1:-1", "127.0.0.1:0", nil, nil, nil},
		{"every interface, plaintext", ":-1", ":0", nil, nil, []string{"set nats.tls", "set nats.leafTLS"}},
		{"every interface, TLS", ":-1", ":0", files, files, nil},
		{"every interface, leaf plaintext", ":-1", ":0", files, nil, []string{"set nats.leafTLS"}},
	}
	for _, c := range cases {
		var buf syncBuffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
		b, err := Start(Options{Domain: "d", ClientListen: c.client, LeafListen: c.leaf, ClientTLS: c.clientTLS, LeafTLS: c.leafTLS,
			StoreDir: t.TempDir(), Logger: log})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b.Shutdown()
		got := buf.String()
		if n := strings.Count(got, "WARNING"); n != len(c.want) {
			t.Errorf("%s: got %d WARNINGs, want %d:\n%s", c.name, n, len(c.want), got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: log lacks %q:\n%s", c.name, w, got)
			}
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
