package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/tlstest"
)

// TestExampleTLSEverywhere runs the real binaries with examples/tls/hub.yaml
// and examples/tls/agent.yaml, changed only where a test must: ports moved
// to free ones, the relative paths of the hub (which it reads from its
// working directory) made absolute, the data directories in the test's. The
// certificates are made by shared/tlstest under the names the examples
// give. The edge's heartbeat reaches the hub over the mutual-TLS leaf link,
// REST answers over HTTPS, and the agent's local bus admits the local app
// user with a client certificate and nobody without one or without a user.
func TestExampleTLSEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binaries; skipped with -short")
	}
	examples := filepath.Join(repoRoot(), "examples")
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	certs := filepath.Join(tlsDir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "demo"), 0o700); err != nil {
		t.Fatal(err)
	}
	settings, err := os.ReadFile(filepath.Join(examples, "demo", "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "demo"), "settings.json", string(settings))

	ca := tlstest.NewCA(t, "example")
	ca.Server(t, "hub", filepath.Join(certs, "hub.pem"), filepath.Join(certs, "hub.key"))
	ca.Server(t, "bus", filepath.Join(certs, "bus.pem"), filepath.Join(certs, "bus.key"))
	ca.Client(t, "edge1", filepath.Join(certs, "edge1.pem"), filepath.Join(certs, "edge1.key"))
	ca.Client(t, "scada", filepath.Join(certs, "scada.pem"), filepath.Join(certs, "scada.key"))
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certs, "ca.pem", string(caPEM))

	httpPort, natsPort, leafPort, busPort := freePort(t), freePort(t), freePort(t), freePort(t)
	hubYAML := rewrite(t, filepath.Join(examples, "tls", "hub.yaml"),
		`listen: ":8443"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, httpPort),
		`listen: ":4222"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, natsPort),
		`leafListen: ":7422"`, fmt.Sprintf(`leafListen: "127.0.0.1:%d"`, leafPort),
		"certs/", certs+"/",
		"dataDir: data/hub", "dataDir: "+filepath.Join(dir, "hub"))
	agentYAML := rewrite(t, filepath.Join(examples, "tls", "agent.yaml"),
		"tls://localhost:7422", fmt.Sprintf("tls://localhost:%d", leafPort),
		`listen: "127.0.0.1:4223"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, busPort),
		"dataDir: data/edge1", "dataDir: "+filepath.Join(dir, "edge1"))
	hubCfg := writeFile(t, tlsDir, "hub.yaml", hubYAML)
	agentCfg := writeFile(t, tlsDir, "agent.yaml", agentYAML)

	hub := startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", hubCfg)
	hc := &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	base := fmt.Sprintf("https://localhost:%d/api/v2", httpPort)
	eventually(t, 60*time.Second, 50*time.Millisecond, "the hub's REST API over TLS", func() bool {
		resp, err := hc.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if strings.Contains(hub.log.String(), "WARNING") {
		t.Errorf("the TLS example logged a plaintext warning:\n%s", hub.log.String())
	}
	start(t, "gridedge-agent", "--config", agentCfg)

	// the heartbeat arrives over the mutual-TLS leaf link
	token, user := loginWith(t, hc, base)
	eventually(t, 30*time.Second, 100*time.Millisecond, "edge1's heartbeat over the TLS leaf link", func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/system/edges/edge1", nil)
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("X-User-ID", user)
		var rec struct {
			Data map[string]any `json:"data"`
		}
		code, err := doJSON(hc, req, &rec)
		if err != nil || code != http.StatusOK {
			return false
		}
		hb, _ := rec.Data["heartbeat"].(map[string]any)
		return hb != nil && hb["hub_connected"] == true
	})

	// the local bus: TLS, a client certificate and the local app user
	busURL := fmt.Sprintf("tls://localhost:%d", busPort)
	withCert := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{tlstest.KeyPair(t, filepath.Join(certs, "scada.pem"), filepath.Join(certs, "scada.key"))}}
	eventually(t, 30*time.Second, 100*time.Millisecond, "the agent's local bus", func() bool {
		nc, err := nats.Connect(busURL, nats.Secure(withCert), nats.UserInfo("scada", "tls-local-app-secret"), nats.Timeout(2*time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		sub, err := nc.SubscribeSync(subject.LiveAll("demo", "edge1"))
		if err != nil {
			return false
		}
		defer sub.Unsubscribe()
		return nc.Flush() == nil && nc.LastError() == nil
	})
	refused := []struct {
		what string
		opts []nats.Option
	}{
		{"anonymous with a client certificate", []nats.Option{nats.Secure(withCert)}},
		{"the local app user without a client certificate", []nats.Option{nats.Secure(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}),
			nats.UserInfo("scada", "tls-local-app-secret")}},
	}
	for _, r := range refused {
		if nc, err := nats.Connect(busURL, append(r.opts, nats.Timeout(2*time.Second), nats.NoReconnect())...); err == nil {
			nc.Close()
			t.Errorf("the local bus admitted %s", r.what)
		}
	}
	if nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", busPort), nats.UserInfo("scada", "tls-local-app-secret"),
		nats.Timeout(2*time.Second), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("the local bus admitted a plaintext client")
	}
}

// rewrite returns the file at path with each old string replaced by its
// new one; every old string must occur, so a changed example fails the test
// instead of running with its real ports or paths.
func rewrite(t *testing.T, path string, oldNew ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s no longer contains %q", path, oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

// loginWith logs admin in at base with client hc and returns the token and
// the user id.
func loginWith(t *testing.T, hc *http.Client, base string) (token, user string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(`{"user":"admin","password":"e2e-admin-password"}`))
	req.Header.Set("Content-Type", "application/json")
	var r struct {
		Data struct {
			AuthToken string `json:"authToken"`
			UserID    string `json:"userId"`
		} `json:"data"`
	}
	if code, err := doJSON(hc, req, &r); err != nil || code != http.StatusOK {
		t.Fatalf("login over TLS: %d %v", code, err)
	}
	return r.Data.AuthToken, r.Data.UserID
}

// doJSON sends req with hc and decodes the JSON answer into v.
func doJSON(hc *http.Client, req *http.Request, v any) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}
