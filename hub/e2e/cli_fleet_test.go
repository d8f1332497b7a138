package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// operatorBlock is the hub config of the CLI's operator user as
// docs/cli.md documents it (a YAML document starting with "nats:").
func operatorBlock(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- operator-user")
	if !ok {
		t.Fatal("docs/cli.md has no operator-user block")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	if !strings.HasPrefix(block, "nats:\n") {
		t.Fatalf("the operator-user block does not start with nats:\n%s", block)
	}
	return block
}

// gridedge runs the CLI binary to completion with env added to the
// environment and returns its exit code and output.
func gridedge(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "gridedge"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run gridedge %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// TestCLIFleetOperations runs the released binaries: a hub with the
// documented operator user, an agent that trusts the operator's key, the
// simulator, and the gridedge CLI connecting with its own credentials from
// the environment.
func TestCLIFleetOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hub, agent and simulator processes; skipped with -short")
	}
	dir := t.TempDir()
	natsPort, leafPort, httpPort, modbusPort := freePort(t), freePort(t), freePort(t), freePort(t)
	env := []string{
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		fmt.Sprintf("GRIDEDGE_URL=nats://127.0.0.1:%d", natsPort),
		"GRIDEDGE_NATS_USER=operator", "GRIDEDGE_NATS_PASSWORD=change-me",
		"GRIDEDGE_KEY=" + filepath.Join(dir, "operator.nk"),
		"GRIDEDGE_PUSHER=e2e-operator", "GRIDEDGE_CONTEXT=", "GRIDEDGE_CREDS=", "GRIDEDGE_DOMAIN=",
	}
	code, out, errOut := gridedge(t, env, "key", "gen", "--out", filepath.Join(dir, "operator.nk"))
	if code != 0 {
		t.Fatalf("key gen: %d %s", code, errOut)
	}
	pub := strings.TrimSpace(out)

	hubCfg := strings.Replace(operatorBlock(t), "nats:\n", fmt.Sprintf("nats:\n  listen: \"127.0.0.1:%d\"\n  leafListen: \"127.0.0.1:%d\"\n", natsPort, leafPort), 1) +
		fmt.Sprintf("dataDir: %s\nhttp: {listen: \"127.0.0.1:%d\"}\nedges: [{id: edge1, password: e2e-secret-1}, {id: edge2, password: e2e-secret-2}]\n",
			filepath.Join(dir, "hub"), httpPort)
	settings := writeFile(t, dir, "settings.json", stackSettings(modbusPort, 0.2))
	agentCfg := writeFile(t, dir, "agent.yaml", fmt.Sprintf(`
edge: {id: edge1, labels: {site: north, hw: rpi4}}
hub: {url: "nats-leaf://127.0.0.1:%d", password: e2e-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: settings.json
heartbeat: {interval: 300ms}
control: {trustedKeys: [%s]}
`, leafPort, filepath.Join(dir, "edge1"), pub))
	start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", modbusPort), "--log-level", "warn")
	startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", writeFile(t, dir, "hub.yaml", hubCfg))
	agent := start(t, "gridedge-agent", "--config", agentCfg)

	// the fleet as the hub sees it
	var edges []struct {
		Edge, State, MapVersion string
		SlavesUp, SlavesTotal   int
	}
	eventually(t, 60*time.Second, 200*time.Millisecond, "edge1 online with both slaves up in fleet ls", func() bool {
		code, out, _ := gridedge(t, env, "fleet", "ls", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &edges) == nil && len(edges) == 1 &&
			edges[0].Edge == "edge1" && edges[0].State == "online" && edges[0].SlavesUp == 2 && edges[0].SlavesTotal == 2
	})
	running := edges[0].MapVersion
	// the agent's version of its config file's map is the CLI's
	code, out, errOut = gridedge(t, env, "map", "validate", settings)
	if code != 0 || !strings.Contains(out, "version "+running+" ") {
		t.Errorf("map validate of the agent's settings file: exit %d, %s%s; the edge runs %s", code, out, errOut, running)
	}

	// the documented operator user cannot publish batches on the real hub
	denied := make(chan error, 1)
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.UserInfo("operator", "change-me"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case denied <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("connect as the documented operator: %v", err)
	}
	defer nc.Close()
	if err := nc.Publish("gridedge.ingest.edge1", []byte("forged batch")); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-denied:
		if !strings.Contains(err.Error(), "Permissions Violation for Publish to \"gridedge.ingest.edge1\"") {
			t.Errorf("publish to ingest as the operator: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the operator user may publish edge batches")
	}
	code, out, _ = gridedge(t, env, "fleet", "ls")
	if code != 0 || !strings.Contains(out, "EDGE") || !strings.Contains(out, "edge1") || !strings.Contains(out, "2/2") || !strings.Contains(out, "hw=rpi4,site=north") {
		t.Errorf("fleet ls table: exit %d\n%s", code, out)
	}
	code, out, errOut = gridedge(t, env, "fleet", "status", "edge1")
	if code != 0 || !strings.Contains(out, "map version") || !strings.Contains(out, running) {
		t.Errorf("fleet status: exit %d\n%s%s", code, out, errOut)
	}

	// push a changed map to the edges labelled site=north
	newMap := writeFile(t, dir, "new.json", strings.Replace(stackSettings(modbusPort, 0.2), `"factor": 10`, `"factor": 100`, 1))
	code, _, errOut = gridedge(t, env, "map", "push", "--select", "site=south", newMap)
	if code != 1 || !strings.Contains(errOut, "no edge matches") {
		t.Errorf("push to site=south: exit %d, %s", code, errOut)
	}
	code, out, errOut = gridedge(t, env, "map", "push", "--select", "site=north", "--select", "hw=rpi4", "--confirm", "--json", newMap)
	var push struct {
		Version string
		Results []struct{ Edge, Outcome string }
	}
	if err := json.Unmarshal([]byte(out), &push); err != nil || code != 0 || len(push.Results) != 1 || push.Results[0].Outcome != "applied" {
		t.Fatalf("map push --select site=north: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	eventually(t, 30*time.Second, 200*time.Millisecond, "the new map version in fleet ls", func() bool {
		code, out, _ := gridedge(t, env, "fleet", "ls", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &edges) == nil && len(edges) == 1 && edges[0].MapVersion == push.Version
	})

	// the per-edge ingest streams
	code, out, errOut = gridedge(t, env, "hub", "streams", "--json")
	if code != 0 || !strings.Contains(out, `"stream": "INGEST_edge1"`) || !strings.Contains(out, `"stream": "INGEST_edge2"`) {
		t.Errorf("hub streams: exit %d\n%s%s", code, out, errOut)
	}

	// an edge that stopped is offline, and a push to it says so
	agent.stop(t)
	eventually(t, 30*time.Second, 200*time.Millisecond, "edge1 offline in fleet ls", func() bool {
		code, out, _ := gridedge(t, env, "fleet", "ls", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &edges) == nil && len(edges) == 1 && edges[0].State == "offline"
	})
	code, out, _ = gridedge(t, env, "map", "push", "--all", newMap)
	if code != 1 || !strings.Contains(out, "edge1  offline") || !strings.Contains(out, "1 offline") {
		t.Errorf("push to an offline fleet: exit %d\n%s", code, out)
	}
}
