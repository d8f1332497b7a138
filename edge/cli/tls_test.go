package cli

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gridedge/gridedge/shared/tlstest"
)

// TestConnectTLS: the CLI reaches a hub whose client port requires TLS and
// client certificates only with the CA and its certificate given, from
// flags or a saved context.
func TestConnectTLS(t *testing.T) {
	isolate(t)
	ca := tlstest.NewCA(t, "hub")
	srvCert, srvKey := ca.Path("server.pem"), ca.Path("server-key.pem")
	ca.Server(t, "hub", srvCert, srvKey)
	cliCert, cliKey := ca.Path("cli.pem"), ca.Path("cli-key.pem")
	ca.Client(t, "operator", cliCert, cliKey)
	tc := &tls.Config{Certificates: []tls.Certificate{tlstest.KeyPair(t, srvCert, srvKey)}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, TLSConfig: tc, TLSTimeout: 5,
		Users: []*server.User{{Username: "op", Password: "pw"}}}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	tests := []struct {
		name string
		c    natsContext
		err  string
	}{
		{"CA and client certificate", natsContext{URL: url, User: "op", Password: "pw", TLSCA: ca.CertFile, TLSCert: cliCert, TLSKey: cliKey}, ""},
		{"without the CA", natsContext{URL: url, User: "op", Password: "pw", TLSCert: cliCert, TLSKey: cliKey}, "certificate signed by unknown authority"},
		{"without a client certificate", natsContext{URL: url, User: "op", Password: "pw", TLSCA: ca.CertFile}, "connect to " + url},
		{"a certificate without its key", natsContext{URL: url, User: "op", Password: "pw", TLSCA: ca.CertFile, TLSCert: cliCert}, "needs both --tls-cert and --tls-key"},
	}
	for _, tt := range tests {
		f := connFlags{flags: tt.c}
		nc, _, err := f.connect()
		if tt.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			nc.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.err)
			if nc != nil {
				nc.Close()
			}
		}
	}
	// the same from a saved context, used from another directory
	if code, _, errOut := runCLI("context", "add", "--server", url, "--user", "op", "--password", "pw", "--tls-ca", ca.CertFile,
		"--tls-cert", cliCert, "--tls-key", cliKey, "--use", "secure"); code != 0 {
		t.Fatal(errOut)
	}
	var f connFlags
	nc, _, err := f.connect()
	if err != nil {
		t.Fatalf("connect with the context: %v", err)
	}
	nc.Close()
}
