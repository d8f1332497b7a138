package daemon

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/shared/tlstest"
)

// examplesDir is the repository's examples directory.
func examplesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

// The example hub configurations load, default and validate as they are.
func TestExampleConfigsLoad(t *testing.T) {
	for _, name := range []string{"demo/hub.yaml", "tls/hub.yaml"} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(filepath.Join(examplesDir(), name)); err != nil {
				t.Fatalf("examples/%s: %v", name, err)
			}
		})
	}
}

// examples/tls/hub.yaml puts TLS on every listener and refuses plaintext;
// started as it is (from its own directory, with certificates made by
// shared/tlstest under the names it gives, ports moved to free ones), the
// REST API answers only over TLS and every NATS port is tls://.
func TestExampleTLSHub(t *testing.T) {
	cfg, err := Load(filepath.Join(examplesDir(), "tls", "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.HTTP.TLS == nil || !cfg.HTTP.RequireTLS:
		t.Fatal("examples/tls/hub.yaml: http.tls and http.requireTLS must be set")
	case cfg.NATS.TLS == nil || cfg.NATS.TLS.CAFile == "":
		t.Fatal("examples/tls/hub.yaml: nats.tls with a caFile must be set")
	case cfg.NATS.LeafTLS == nil || cfg.NATS.LeafTLS.CAFile == "":
		t.Fatal("examples/tls/hub.yaml: nats.leafTLS with a caFile must be set")
	case !cfg.NATS.RequireTLS:
		t.Fatal("examples/tls/hub.yaml: nats.requireTLS must be set")
	}

	dir := t.TempDir()
	ca := tlstest.NewCA(t, "example")
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	ca.Server(t, "hub", filepath.Join(dir, cfg.HTTP.TLS.CertFile), filepath.Join(dir, cfg.HTTP.TLS.KeyFile))
	for _, f := range []string{cfg.NATS.TLS.CertFile, cfg.NATS.TLS.KeyFile, cfg.NATS.LeafTLS.CertFile, cfg.NATS.LeafTLS.KeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("the NATS ports use other files than the REST API (%s): %v", f, err)
		}
	}
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cfg.NATS.LeafTLS.CAFile), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // the example's paths are relative to where the hub starts
	cfg.HTTP.Listen, cfg.NATS.Listen, cfg.NATS.LeafListen = "127.0.0.1:0", "127.0.0.1:-1", "127.0.0.1:0"
	t.Setenv(EnvAdminPassword, "example-admin-password")
	var logs syncBuffer
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("start the hub of examples/tls/hub.yaml: %v", err)
	}
	defer h.Close()
	if strings.Contains(logs.String(), "WARNING") {
		t.Errorf("a plaintext warning from the TLS example:\n%s", logs.String())
	}
	for what, url := range map[string]string{"client": h.Broker().ClientURL(), "leaf": h.LeafURL()} {
		if !strings.HasPrefix(url, "tls://") {
			t.Errorf("%s URL %s: want tls://", what, url)
		}
	}
	if resp, err := http.Get("http://" + h.HTTPAddr() + "/api/v2/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the REST API answered plaintext HTTP")
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Get("https://" + h.HTTPAddr() + "/api/v2/health")
	if err != nil {
		t.Fatalf("REST over TLS with the example's CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health over TLS: %d, want 200", resp.StatusCode)
	}
}
