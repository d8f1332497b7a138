package tlsconf

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/tlstest"
)

func TestLoopback(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1:4222", true},
		{"[::1]:4222", true},
		{"localhost:4222", true},
		{"127.0.0.2", true},
		{":4222", false},
		{"0.0.0.0:4222", false},
		{"[::]:7422", false},
		{"10.0.0.5:4222", false},
		{"hub.example:4222", false},
	}
	for _, c := range cases {
		if got := Loopback(c.in); got != c.want {
			t.Errorf("Loopback(%q): got %v, want %v", c.in, got, c.want)
		}
	}
}

// A listener built with Server serves a renewed certificate to the next
// connection, keeps the old one when the new files are broken, and with a
// CA file refuses clients without a certificate it signed.
func TestServerReloadsAndVerifiesClients(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	certFile, keyFile := ca.Path("srv.pem"), ca.Path("srv.key")
	first := ca.Server(t, "first", certFile, keyFile)
	ca.Client(t, "client", "client.pem", "client.key")
	tc, _, err := Server("nats.tls", Files{CertFile: certFile, KeyFile: keyFile, CAFile: ca.CertFile},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); _, _ = c.Write([]byte("x")); c.Close() }()
		}
	}()
	addr := ln.Addr().String()
	withCert := &tls.Config{Certificates: []tls.Certificate{tlstest.KeyPair(t, ca.Path("client.pem"), ca.Path("client.key"))}}
	serial := func() string {
		t.Helper()
		c, err := tlstest.PeerCertificate(t, addr, withCert)
		if err != nil {
			t.Fatalf("TLS dial with a client certificate: %v", err)
		}
		return c.Subject.CommonName
	}
	if got := serial(); got != first.Subject.CommonName {
		t.Fatalf("served %q, want %q", got, first.Subject.CommonName)
	}
	// without a client certificate the server refuses (TLS 1.3 reports it at the first read)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	time.Sleep(1100 * time.Millisecond) // the files are checked at most once a second
	ca.Server(t, "second", certFile, keyFile)
	if got := serial(); got != "second" {
		t.Fatalf("after renewal served %q, want second", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != "second" {
		t.Fatalf("after a broken key served %q, want the previous certificate second", got)
	}
}

func TestServerErrors(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	ca.Server(t, "s", "s.pem", "s.key")
	cases := []struct {
		name string
		f    Files
	}{
		{"missing cert", Files{CertFile: ca.Path("none.pem"), KeyFile: ca.Path("s.key")}},
		{"key is not a key", Files{CertFile: ca.Path("s.pem"), KeyFile: ca.Path("s.pem")}},
		{"missing CA", Files{CertFile: ca.Path("s.pem"), KeyFile: ca.Path("s.key"), CAFile: ca.Path("none-ca.pem")}},
		{"CA holds no certificate", Files{CertFile: ca.Path("s.pem"), KeyFile: ca.Path("s.key"), CAFile: ca.Path("s.key")}},
	}
	for _, c := range cases {
		if _, _, err := Server("nats.tls", c.f, nil); err == nil {
			t.Errorf("%s: got no error, want one", c.name)
		}
	}
}
