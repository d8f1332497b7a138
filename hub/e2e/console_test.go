package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConsoleInBrowser drives the web console (hub/console) in a real
// browser: Debian's Chromium through playwright-core
// (hub/console/testdata/browser.cjs), against the real hub, agent and
// simulator. It logs in (a wrong password first), searches a collection
// (a bad selector shows the hub's message), sees a measurement change live
// over DDP, sees DDP reconnect and values flow again after the hub
// restarts, checks the points the history chart draws against the history
// API, sees the edge online on the fleet page with its heartbeat history
// charted, dry-runs, pushes (signed by the hub's fleet key, which the agent
// trusts) and rolls back a map from the edge's page, sees an invalid map
// refused with the agent's reasons, sees the edge offline once its agent
// stops, and is sent back to the
// login form once its token is revoked. Screenshots of each page go to
// $GRIDEDGE_ARTIFACTS/console (else a temporary directory), logged. It
// skips without node, playwright-core (scripts/install-ui-test.sh) or
// chromium, and fails then under GRIDEDGE_REQUIRE_INTEROP=1.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binaries; skipped with -short")
	}
	root := repoRoot()
	chromium := os.Getenv("GRIDEDGE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	pw := filepath.Join(root, ".tools", "ui-test", "node_modules", "playwright-core")
	node, err := exec.LookPath("node")
	var missing []string
	if err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(pw); err != nil {
		missing = append(missing, "playwright-core (scripts/install-ui-test.sh)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "chromium at "+chromium+" (apt install chromium, or set GRIDEDGE_CHROMIUM)")
	}
	if len(missing) > 0 {
		msg := "console browser test needs " + strings.Join(missing, ", ") + "; scripts/install-test-deps.sh installs them"
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out := t.TempDir()
	if a := os.Getenv("GRIDEDGE_ARTIFACTS"); a != "" {
		out = filepath.Join(a, "console")
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	hubYAML, agentYAML, _ := fleetKeys(t, t.TempDir())
	s := startStackWith(t, stackOptions{period: 0.5, hubYAML: hubYAML, agentYAML: agentYAML})
	// history and a heartbeat exist before the browser looks
	eventually(t, 60*time.Second, 200*time.Millisecond, "M1's pollCount and edge1 online", func() bool {
		v, err := s.measurement("meters", "M1", "pollCount")
		if err != nil || v == nil {
			return false
		}
		var rec struct {
			Data struct {
				State string `json:"state"`
			} `json:"data"`
		}
		code, err := s.get("/api/v2/system/edges/edge1", &rec)
		return err == nil && code == 200 && rec.Data.State == "online"
	})
	if s.sim.exited() {
		t.Fatalf("the simulator exited (its port was taken by another process?):\n%s", s.sim.log.String())
	}
	time.Sleep(2 * time.Second) // a few points of history to draw

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "hub", "console", "testdata", "browser.cjs"))
	cmd.Env = append(os.Environ(),
		"PLAYWRIGHT_CORE="+pw, "CHROMIUM="+chromium, "BASE="+strings.TrimSuffix(s.url(""), "/"),
		"USER=admin", "PASSWORD=e2e-admin-password", "LAYER=site", "COLLECTION=meters", "DOC=M1",
		"MEASUREMENT=pollCount", "EDGE=edge1", "OUT="+out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		t.Log(sc.Text())
		if sc.Text() == "RESTART-HUB" { // the script watches DDP reconnect
			s.hub.stop(t)
			s.restartHub(t)
			eventually(t, 60*time.Second, 50*time.Millisecond, "the restarted hub's REST API", func() bool {
				var v map[string]any
				code, err := getJSON(s.url("/api/v2/health"), &v)
				return err == nil && code == 200
			})
			if _, err := io.WriteString(stdin, "restarted\n"); err != nil {
				t.Fatal(err)
			}
		}
		if sc.Text() == "STOP-AGENT" { // the script watches the edge go offline
			s.agent.stop(t)
			if _, err := io.WriteString(stdin, "stopped\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser script: %v\n%s", err, stderr.String())
	}
	t.Logf("browser script ran in %s; screenshots in %s", time.Since(start).Round(100*time.Millisecond), out)
	shots, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(shots) < 19 {
		t.Errorf("%d screenshots in %s, want 19", len(shots), out)
	}
}
