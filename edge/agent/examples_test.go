package agent

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// examplesDir is the repository's examples directory.
func examplesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

// The example agent configurations load, resolve and validate as they are.
func TestExampleConfigsLoad(t *testing.T) {
	for _, name := range []string{"demo/agent.yaml", "tls/agent.yaml"} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(filepath.Join(examplesDir(), name)); err != nil {
				t.Fatalf("examples/%s: %v", name, err)
			}
		})
	}
}

// examples/tls/agent.yaml encrypts both links and refuses plaintext and
// anonymous readers; its certificate paths are resolved against its own
// directory (hub/e2e starts it against examples/tls/hub.yaml).
func TestExampleTLSAgent(t *testing.T) {
	dir := filepath.Join(examplesDir(), "tls")
	c, err := Load(filepath.Join(dir, "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "certs")
	checks := []struct {
		what string
		ok   bool
	}{
		{"hub.url is tls://", strings.HasPrefix(c.Hub.URL, "tls://")},
		{"hub.requireTLS", c.Hub.RequireTLS},
		{"hub.caFile in certs/", c.Hub.CAFile == filepath.Join(certs, "ca.pem")},
		{"hub.certFile and hub.keyFile in certs/", filepath.Dir(c.Hub.CertFile) == certs && filepath.Dir(c.Hub.KeyFile) == certs},
		{"nats.tls with a caFile", c.NATS.TLS != nil && c.NATS.TLS.CAFile == filepath.Join(certs, "ca.pem")},
		{"nats.user", c.NATS.User != ""},
		{"nats.anonymousRead false", c.NATS.AnonymousRead != nil && !*c.NATS.AnonymousRead},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("examples/tls/agent.yaml: want %s", ch.what)
		}
	}
}
