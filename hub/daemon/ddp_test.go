package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const ddpTestPassword = "ddp-admin-password"

func startDDPHub(t *testing.T) *Hub {
	t.Helper()
	t.Setenv(EnvAdminPassword, ddpTestPassword)
	cfg := testConfig(t, t.TempDir())
	h, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// TestDDPMountedOnTheHTTPPort: /websocket answers DDP on the REST port,
// and a REST write reaches a subscriber through the hub's change feed.
func TestDDPMountedOnTheHTTPPort(t *testing.T) {
	h := startDDPHub(t)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+h.HTTPAddr()+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() map[string]any {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	read() // server_id
	_ = ws.WriteJSON(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	if m := read(); m["msg"] != "connected" {
		t.Fatalf("got %v, want connected", m)
	}
	_ = ws.WriteJSON(map[string]any{"msg": "method", "id": "1", "method": "login",
		"params": []any{map[string]any{"user": map[string]any{"username": "admin"}, "password": ddpTestPassword}}})
	res := read()
	token, _ := res["result"].(map[string]any)["token"].(string)
	if token == "" {
		t.Fatalf("login: %v", res)
	}
	read() // updated
	_ = ws.WriteJSON(map[string]any{"msg": "sub", "id": "s", "name": "demo_meters.all"})
	if m := read(); m["msg"] != "ready" {
		t.Fatalf("got %v, want ready", m)
	}
	code, body := call(t, "POST", "http://"+h.HTTPAddr()+"/api/v2/demo/meters", map[string]any{"_id": "M9", "name": "x"},
		map[string]string{"X-User-ID": "admin", "X-Auth-Token": token})
	if code != 200 {
		t.Fatalf("REST insert: %d %v", code, body)
	}
	if m := read(); m["msg"] != "added" || m["id"] != "M9" || m["collection"] != "demo_meters" {
		t.Errorf("got %v, want added M9", m)
	}
}

// TestDDPInteropNode runs hub/ddp/testdata/interop.js with the npm clients
// simpleddp (+ simpleddp-plugin-login, ws) and ddp.js against a started hub.
// It skips when node or the modules are missing (scripts/install-ddp-node.sh
// installs them) and fails then when GRIDEDGE_REQUIRE_INTEROP=1.
func TestDDPInteropNode(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	modules := filepath.Join(root, ".tools", "ddp-node", "node_modules")
	node, err := exec.LookPath("node")
	missing := ""
	if err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(modules, "simpleddp-plugin-login")); err != nil {
		missing = "the npm DDP clients are not installed (run scripts/install-ddp-node.sh)"
	}
	if missing != "" {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	h := startDDPHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "hub", "ddp", "testdata", "interop.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "HUB=http://"+h.HTTPAddr(), "ADMIN_PASSWORD="+ddpTestPassword)
	out, err := cmd.CombinedOutput()
	t.Logf("node interop.js:\n%s", out)
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("interop.js failed: %v", err)
	}
}
