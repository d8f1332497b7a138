package daemon

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/shared/tlstest"
)

// A hub with TLS on every listener and nats.requireTLS: plaintext NATS
// clients are refused, a client with the CA and a client certificate
// connects, the REST /gateway still reaches NATS as a client user, and no
// plaintext warning is logged.
func TestHubTLSEverywhere(t *testing.T) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	ca := tlstest.NewCA(t, "hub")
	ca.Server(t, "hub", "hub.pem", "hub.key")
	ca.Client(t, "tool", "tool.pem", "tool.key")
	files := &TLSFiles{CertFile: ca.Path("hub.pem"), KeyFile: ca.Path("hub.key"), CAFile: ca.CertFile}
	cfg := testConfig(t, t.TempDir())
	cfg.NATS.TLS, cfg.NATS.LeafTLS, cfg.NATS.RequireTLS = files, files, true
	cfg.HTTP.TLS = &api.TLSConfig{CertFile: files.CertFile, KeyFile: files.KeyFile}
	cfg.HTTP.RequireTLS = true
	cfg.NATS.Users = []broker.ClientUser{{User: "tool", Password: "tool-secret", Publish: []string{"gridedge.metrics.>"}, Subscribe: []string{"gridedge.metrics.>"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if strings.Contains(logs.String(), "WARNING") {
		t.Errorf("a plaintext warning with TLS everywhere:\n%s", logs.String())
	}
	url := h.Broker().ClientURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("client URL %s: want tls://", url)
	}
	if !strings.HasPrefix(h.LeafURL(), "tls://") {
		t.Fatalf("leaf URL %s: want tls://", h.LeafURL())
	}
	creds := nats.UserInfo("tool", "tool-secret")
	if nc, err := nats.Connect("nats://"+strings.TrimPrefix(url, "tls://"), creds, nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a plaintext NATS client connected")
	}
	nc, err := nats.Connect(url, creds, nats.Secure(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{tlstest.KeyPair(t, ca.Path("tool.pem"), ca.Path("tool.key"))}}))
	if err != nil {
		t.Fatalf("NATS client with the CA and a client certificate: %v", err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("gridedge.metrics.x")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// the REST /gateway publishes as the NATS user "tool"
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	base := "https://" + h.HTTPAddr() + "/api/v2"
	code, m := callWith(t, hc, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	if code != 200 {
		t.Fatalf("login over TLS: %d %v", code, m)
	}
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	code, m = callWith(t, hc, "POST", base+"/gateway", map[string]any{"subject": "metrics.x", "method": "publish", "params": map[string]any{"v": 1},
		"natsCredentials": map[string]any{"user": "tool", "password": "tool-secret"}}, hdr)
	if code != 200 {
		t.Fatalf("gateway publish: got %d %v, want 200", code, m)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("the gateway's message did not arrive: %v", err)
	}
	if got, want := string(msg.Data), `{"v":1}`; got != want {
		t.Errorf("gateway message: got %s, want %s", got, want)
	}
	// the gateway keeps the user's permissions
	code, m = callWith(t, hc, "POST", base+"/gateway", map[string]any{"subject": "other.x",
		"natsCredentials": map[string]any{"user": "tool", "password": "tool-secret"}}, hdr)
	if code != 403 {
		t.Fatalf("gateway request outside the user's permissions: got %d %v, want a refusal", code, m)
	}
}
