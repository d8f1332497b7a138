package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/hub/store"
)

// syncBuffer is a goroutine-safe log sink.
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

func testConfig(t *testing.T, dir string) *Config {
	t.Helper()
	cfg := &Config{DataDir: dir, NATS: NATSConfig{Listen: "127.0.0.1:-1", LeafListen: "127.0.0.1:0"},
		Layers: []store.Layer{{ID: "demo", Collections: []store.Collection{{Name: "meters"}}}}}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func call(t *testing.T, method, url string, body any, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	return callWith(t, http.DefaultClient, method, url, body, hdr)
}

// callWith sends a JSON request with client and decodes the JSON answer.
func callWith(t *testing.T, client *http.Client, method, url string, body any, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestStartAuth starts a hub: the admin password comes from the
// environment, data needs credentials, and the password survives restarts.
func TestStartAuth(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := Start(context.Background(), testConfig(t, dir), log)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + h.HTTPAddr() + "/api/v2"
	if code, _ := call(t, "GET", base+"/health", nil, nil); code != 200 {
		t.Fatalf("health: %d", code)
	}
	if code, m := call(t, "GET", base+"/demo/meters", nil, nil); code != 401 {
		t.Fatalf("unauthenticated read: %d %v", code, m)
	}
	code, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	if code != 200 {
		t.Fatalf("login: %d %v", code, m)
	}
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	if code, m := call(t, "POST", base+"/demo/meters", map[string]any{"_id": "M1", "v": 1}, hdr); code != 200 {
		t.Fatalf("insert: %d %v", code, m)
	}
	if code, m := call(t, "GET", base+"/demo/meters/M1", nil, hdr); code != 200 {
		t.Fatalf("get: %d %v", code, m)
	}
	h.Close()

	// Restart without the variable: nothing is generated, the token still works.
	t.Setenv(EnvAdminPassword, "")
	var logs syncBuffer
	h, err = Start(context.Background(), testConfig(t, dir), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base = "http://" + h.HTTPAddr() + "/api/v2"
	if code, m := call(t, "GET", base+"/me", nil, hdr); code != 200 {
		t.Fatalf("token after restart: %d %v", code, m)
	}
	if strings.Contains(logs.String(), "generated password") {
		t.Fatal("a password was generated on a restart")
	}
}

// TestStartGeneratesAdminPassword: without GRIDEDGE_ADMIN_PASSWORD, the
// first start logs a generated password once, and it works.
func TestStartGeneratesAdminPassword(t *testing.T) {
	t.Setenv(EnvAdminPassword, "")
	var logs syncBuffer
	h, err := Start(context.Background(), testConfig(t, t.TempDir()), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	m := regexp.MustCompile(`generated password.* password=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no generated password in the log:\n%s", logs.String())
	}
	code, res := call(t, "POST", "http://"+h.HTTPAddr()+"/api/v2/login", map[string]any{"user": "admin", "password": m[1]}, nil)
	if code != 200 {
		t.Fatalf("login with the generated password: %d %v", code, res)
	}
}

// TestStartListenersOff: "off" disables the REST API and the leaf-node
// listener; the hub still runs.
func TestStartListenersOff(t *testing.T) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	cfg := testConfig(t, t.TempDir())
	cfg.HTTP.Listen, cfg.NATS.LeafListen = listen.Off, listen.Off
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := h.HTTPAddr(); got != "" {
		t.Errorf("HTTPAddr: got %q, want none", got)
	}
	if got := h.LeafURL(); got != "" {
		t.Errorf("LeafURL: got %q, want none", got)
	}
}
