package ddp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSockJSInteropNode runs testdata/sockjs.js: the npm sockjs-client, in
// Node, over xhr-streaming, xhr-polling and websocket in turn. It skips
// when node or the module is missing (scripts/install-ddp-node.sh installs
// it) and fails then when GRIDEDGE_REQUIRE_INTEROP=1. SOCKJS_NODE_MODULES
// names another node_modules directory.
func TestSockJSInteropNode(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	modules := os.Getenv("SOCKJS_NODE_MODULES")
	if modules == "" {
		modules = filepath.Join(dir, "..", "..", ".tools", "ddp-node", "node_modules")
	}
	node, err := exec.LookPath("node")
	missing := ""
	if err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(modules, "sockjs-client")); err != nil {
		missing = "the npm sockjs-client is not installed (run scripts/install-ddp-node.sh)"
	}
	if missing != "" {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	e := newEnv(t, Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "testdata", "sockjs.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "HUB="+e.http.URL)
	out, err := cmd.CombinedOutput()
	t.Logf("node sockjs.js:\n%s", out)
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("sockjs.js failed: %v", err)
	}
}
