package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/agent"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/shared/control"
)

const e2eSettings = `{
  "modbusMaps": {"PANASONIC": [
    {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint"},
    {"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [3, "FAN"]]}
  ]},
  "modbusSlaves": [{"ip": "127.0.0.1", "port": %d, "slaveId": 1, "map": "PANASONIC"}],
  "period": 0.05
}`

// startEdge starts a real agent with the given trusted key, connected to
// the hub as a leaf node, polling a Modbus server of its own.
func startEdge(t *testing.T, h *fleetHub, edge, trusted string) (port int) {
	t.Helper()
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 42, 0, 3, 0, 7)
	url := startModbus(t, mem)
	port = mustPort(t, url)
	dir := t.TempDir()
	settingsFile := writeTemp(t, "settings.json", fmt.Sprintf(e2eSettings, port))
	cfgFile := filepath.Join(dir, "agent.yaml")
	cfg := fmt.Sprintf("edge: {id: %s}\ndataDir: %s\nnats: {listen: 'off'}\nsettingsFile: %s\nheartbeat: {interval: 200ms}\n"+
		"hub: {url: '%s', user: %s, password: %s-pw}\ncontrol: {trustedKeys: [%s], confirmCycles: 2}\n",
		edge, filepath.Join(dir, "data"), settingsFile, h.leafURL, edge, edge, trusted)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := agent.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := agent.Start(ctx, c, quietLogger())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); cancel() })
	return port
}

func mustPort(t *testing.T, url string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(url, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

// waitFor retries f until it holds or the deadline passes.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFleetCommandsThroughARealEdge(t *testing.T) {
	isolate(t)
	h := startFleetHub(t, "edge1", "edge2")
	keyFile := filepath.Join(t.TempDir(), "op.nk")
	code, out, errOut := runCLI("key", "gen", "--out", keyFile)
	if code != 0 {
		t.Fatal(errOut)
	}
	pub := strings.TrimSpace(out)
	port := startEdge(t, h, "edge1", pub)
	op := h.operatorArgs()
	cli := func(args ...string) (int, string, string) {
		return runCLI(append(args[:len(args):len(args)], op...)...)
	}
	// the edge answers once its leaf link carries its subscriptions
	waitFor(t, "edge1 to answer map.get", func() bool {
		code, _, errOut := cli("map", "get", "--edge", "edge1", "--timeout", "1s")
		if code != 0 {
			t.Logf("map get: %s (leaf nodes %d)", errOut, h.srv.NumLeafNodes())
		}
		return code == 0
	})

	// map get: the running SETTINGS document
	code, out, errOut = cli("map", "get", "--edge", "edge1", "--json")
	var got control.MapGetReply
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Edge != "edge1" || got.Map.Source != control.SourceConfig {
		t.Fatalf("map get: exit %d, %v, %s %s", code, err, out, errOut)
	}
	running := got.Map.Version

	// map diff against the running map
	changed := strings.Replace(fmt.Sprintf(e2eSettings, port), `"address": 3, "datatype": "16int"`, `"address": 5, "datatype": "16int"`, 1)
	changed = strings.Replace(changed, `"translation": [[1, "COLD"], [3, "FAN"]]}`, `"translation": [[1, "COLD"], [3, "FAN"]]},
    {"name": "setpoint", "type": "holding", "address": 4, "datatype": "16uint"}`, 1)
	newFile := writeTemp(t, "new.json", changed)
	code, out, _ = cli("map", "diff", "--edge", "edge1", newFile)
	if code != 0 || !strings.Contains(out, "  + setpoint\n") || !strings.Contains(out, "  ~ mode: address: 3 -> 5\n") || !strings.Contains(out, "--- edge edge1 ("+running+")") {
		t.Errorf("map diff --edge: exit %d\n%s", code, out)
	}

	// a dry run reads the new and changed variables and applies nothing
	code, out, errOut = cli("map", "push", "--edge", "edge1", "--dry-run", "--key", keyFile, newFile)
	if code != 0 || !strings.Contains(out, "edge1  dry_run") || !strings.Contains(out, "setpoint") || !strings.Contains(out, "1 dry-run") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, out, _ := cli("map", "get", "--edge", "edge1", "--json"); !strings.Contains(out, running) {
		t.Errorf("the dry run changed the map: %s", out)
	}

	// a key the edge does not trust is refused, with the reason
	otherKey := filepath.Join(t.TempDir(), "other.nk")
	if code, _, _ := runCLI("key", "gen", "--out", otherKey); code != 0 {
		t.Fatal("key gen")
	}
	code, out, _ = cli("map", "push", "--edge", "edge1", "--key", otherKey, newFile)
	if code != ExitFailure || !strings.Contains(out, "refused") || !strings.Contains(out, control.CodeUntrustedKey) {
		t.Errorf("untrusted key: exit %d\n%s", code, out)
	}

	// pushed to a live edge and one that is not connected: a partial failure
	// (--confirm: the reply comes once the first cycles passed, so the
	// rollback below does not meet the watch of those cycles)
	code, out, errOut = cli("map", "push", "--edge", "edge1,edge2", "--confirm", "--key", keyFile, "--json", newFile)
	var push struct {
		Version string
		Results []pushResult
		Summary pushSummary
	}
	if err := json.Unmarshal([]byte(out), &push); err != nil || code != ExitPartial {
		t.Fatalf("push to edge1,edge2: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if push.Summary.Applied != 1 || push.Summary.Offline != 1 || push.Results[0].Edge != "edge1" || push.Results[0].Outcome != outcomeApplied ||
		push.Results[1].Outcome != outcomeOffline || push.Results[0].Reply.Result != control.ResultConfirmed || push.Results[0].Reply.Version != push.Version || push.Results[0].Reply.Previous != running {
		t.Errorf("push results %s", out)
	}
	if _, out, _ := cli("map", "get", "--edge", "edge1", "--json"); !strings.Contains(out, push.Version) {
		t.Errorf("map get after the push: %s", out)
	}

	// through the edge: the new map's variables
	code, out, errOut = cli("edge", "read", "--edge", "edge1", "--slave", "0", "--variable", "setpoint")
	if code != 0 || out != "0\n" {
		t.Errorf("edge read --variable: exit %d, %q %s", code, out, errOut)
	}
	code, out, errOut = cli("edge", "read", "--edge", "edge1", "--slave", "0", "--table", "holding", "--address", "1", "--count", "2", "--json")
	if code != 0 || out != `{"values":[42,0]}`+"\n" {
		t.Errorf("edge read --table: exit %d, %q %s", code, out, errOut)
	}
	code, _, errOut = cli("edge", "write", "--edge", "edge1", "--slave", "0", "--variable", "setpoint", "--value", "5")
	if code != ExitFailure || !strings.Contains(errOut, control.CodeNotWritable) {
		t.Errorf("write to a variable not marked writable: exit %d, %s", code, errOut)
	}

	// the running config, secrets redacted
	code, out, errOut = cli("edge", "config", "--edge", "edge1")
	if code != 0 || !strings.Contains(out, `"password": "`+control.Redacted+`"`) || strings.Contains(out, "edge1-pw") {
		t.Errorf("edge config: exit %d\n%s%s", code, out, errOut)
	}

	// the live status carries the new map version
	code, out, _ = cli("fleet", "status", "--live", "--json", "edge1")
	if code != 0 || !strings.Contains(out, push.Version) {
		t.Errorf("fleet status --live: exit %d\n%s", code, out)
	}

	// rollback restores the map that ran before
	code, out, errOut = cli("map", "rollback", "--edge", "edge1", "--key", keyFile)
	if code != 0 || !strings.Contains(out, "-> "+running) {
		t.Errorf("rollback: exit %d, %s %s", code, out, errOut)
	}
	if _, out, _ := cli("map", "get", "--edge", "edge1", "--json"); !strings.Contains(out, running) {
		t.Errorf("map get after the rollback: %s", out)
	}

	// a partial push changes one map and keeps the rest
	part := writeTemp(t, "part.json", `{"modbusMaps": {"PANASONIC": [
    {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint", "factor": 0.5}]}}`)
	code, out, errOut = cli("map", "push", "--edge", "edge1", "--partial", "--confirm", "--key", keyFile, part)
	if code != 0 || !strings.Contains(out, "edge1  applied  confirmed") {
		t.Errorf("partial push: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli("map", "get", "--edge", "edge1")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || !strings.Contains(out, `"factor": 0.5`) ||
		strings.Contains(out, `"mode"`) || !strings.Contains(out, `"modbusSlaves"`) {
		t.Errorf("map get after the partial push: exit %d, %v\n%s", code, err, out)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
