package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/control"
)

func TestSelectorsMatch(t *testing.T) {
	e := control.EdgeSummary{Edge: "edge7", State: control.StateOnline, Version: "v0.9.0", MapVersion: "sha256:0123456789abcdef",
		SlavesUp: 2, SlavesTotal: 3, LastSeen: time.Now(), Labels: map[string]string{"site": "north", "hw": "rpi4", "state": "label-wins"}}
	tests := []struct {
		sel  []string
		want bool
	}{
		{nil, true},
		{[]string{"version=v0.9.0"}, true},
		{[]string{"version=v0.8.0"}, false},
		{[]string{"mapVersion=sha256:0123456789abcdef"}, true},
		{[]string{"slavesTotal=3"}, true},
		{[]string{"site=north"}, true},
		{[]string{"labels.site=north", "hw=rpi4"}, true},
		{[]string{"site=south"}, false},
		{[]string{"rack=3"}, false},          // no such label
		{[]string{"state=label-wins"}, true}, // a label named like a field wins
		{[]string{"version=v0.9.0", "hw=x86"}, false},
	}
	for _, tt := range tests {
		sels, err := parseSelectors(tt.sel)
		if err != nil {
			t.Fatal(err)
		}
		if got := matches(e, sels); got != tt.want {
			t.Errorf("%v: got %v, want %v", tt.sel, got, tt.want)
		}
	}
	for _, bad := range []string{"site", "=north"} {
		if _, err := parseSelectors([]string{bad}); err == nil || !strings.Contains(err.Error(), "want LABEL=VALUE") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var b strings.Builder
	p := &progress{w: &b, on: true, total: 4, label: "pushing sha256:x to 4 edge(s)"}
	for _, o := range []string{outcomeApplied, outcomeOffline, outcomeApplied, outcomeRefused} {
		p.step(o)
	}
	out := b.String()
	for _, want := range []string{
		"\rpushing sha256:x to 4 edge(s) 1/4 [#######.......................] 1 applied, 0 rolled back, 0 offline, 0 refused",
		"\rpushing sha256:x to 4 edge(s) 4/4 [##############################] 2 applied, 0 rolled back, 1 offline, 1 refused\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
	b.Reset()
	quiet := &progress{w: &b, total: 1}
	quiet.step(outcomeApplied)
	if b.Len() != 0 {
		t.Errorf("progress off a terminal printed %q", b.String())
	}
}

func TestFleetCommandsWithoutAHub(t *testing.T) {
	isolate(t)
	s := startNATS(t)
	key := writeTemp(t, "k.nk", "")
	if code, _, _ := runCLI("key", "gen", "--force", "--out", key); code != 0 {
		t.Fatal("key gen")
	}
	m := writeTemp(t, "m.json", baseMap)
	bad := writeTemp(t, "bad.json", strings.Replace(baseMap, `"32uint"`, `"33uint"`, 1))
	srv := []string{"--server", s.ClientURL(), "--timeout", "500ms"}
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"fleet", "ls"}, ExitFailure, "nobody answers gridedge.fleet.list"},
		{[]string{"fleet", "status", "edge1"}, ExitFailure, "nobody answers gridedge.fleet.status.edge1"},
		{[]string{"map", "push", "--all", "--key", key, m}, ExitFailure, "list the fleet: hub: offline"},
		{[]string{"map", "push", "--edge", "edge1", "--key", key, bad}, ExitFailure, "modbusMaps.meter[2].datatype"},
		{[]string{"map", "push", "--edge", "edge1", m}, ExitFailure, "no signing key"},
		{[]string{"map", "push", "--edge", "edge1", "--all", "--key", key, m}, ExitUsage, "exactly one of --edge, --all and --select"},
		{[]string{"map", "push", "--edge", "edge1", "--key", key, m}, ExitFailure, "0 applied, 0 rolled back, 1 offline, 0 refused"},
		{[]string{"map", "get", "--edge", "edge1"}, ExitFailure, "edge edge1: offline"},
		{[]string{"map", "push", "--edge", "edge1,edge1", "--edge", "edge1", "--key", key, m}, ExitFailure, "to 1 edge(s): 0 applied, 0 rolled back, 1 offline, 0 refused\n"},
		{[]string{"map", "get"}, ExitUsage, "missing --edge"},
		{[]string{"edge", "read", "--edge", "edge1", "--table", "holding"}, ExitUsage, "give --variable, or --table and --address"},
		{[]string{"edge", "read", "--edge", "edge1", "--variable", "v", "--order", "XYZW"}, ExitUsage, "--order"},
		{[]string{"edge", "write", "--edge", "edge1", "--variable", "v"}, ExitUsage, "missing --value"},
		{[]string{"edge", "read", "--edge", "a.b", "--variable", "v"}, ExitFailure, `edge id "a.b" contains '.'`},
		{[]string{"fleet", "ls", "--domain", "a.b"}, ExitFailure, `domain "a.b"`},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(append(tt.args, srv...)...)
		if code != tt.code || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tt.args, code, errOut, tt.code, tt.stderr)
		}
	}
}
