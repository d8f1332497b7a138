package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/control"
)

// baseMap is a valid SETTINGS document with two slaves on one map and one
// on another.
const baseMap = `{
  "modbusMaps": {
    "meter": [
      {"name": "voltage", "type": "holding", "address": 0, "datatype": "32float"},
      {"name": "current", "type": "holding", "address": 2, "datatype": "32float"},
      {"name": "counter", "type": "input", "address": 10, "datatype": "32uint"}
    ],
    "hvac": [
      {"name": "mode", "type": "holding", "address": 5, "datatype": "16uint", "translation": [[1, "COLD"], [2, "HEAT"]]}
    ]
  },
  "modbusSlaves": [
    {"ip": "10.0.0.5", "slaveId": 1, "map": "meter"},
    {"ip": "10.0.0.5", "slaveId": 2, "map": "meter", "period": 5},
    {"serialPort": "/dev/ttyUSB0", "baudRate": 9600, "slaveId": 3, "map": "hvac"}
  ],
  "period": 1
}`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMapValidate(t *testing.T) {
	good := writeTemp(t, "good.json", baseMap)
	yamlDoc := writeTemp(t, "good.yaml", `
modbusMaps:
  meter:
    - {name: voltage, type: holding, address: 0, datatype: 32float}
modbusSlaves:
  - {ip: 10.0.0.5, slaveId: 1, map: meter}
`)
	bad := writeTemp(t, "bad.json", strings.Replace(strings.Replace(baseMap, `"32uint"`, `"33uint"`, 1), `"slaveId": 2, "map": "meter"`, `"slaveId": 2, "map": "nosuch"`, 1))
	unknownKey := writeTemp(t, "typo.json", strings.Replace(baseMap, `"period": 1`, `"perod": 1`, 1))
	partial := writeTemp(t, "partial.json", `{"modbusSlaves": [{"ip": "10.0.0.7", "slaveId": 4, "map": "meter"}]}`)

	// the errors are the agent's at start-up: settings.Load's
	_, wantErr := settings.Load([]byte(mustRead(t, bad)))
	if wantErr == nil {
		t.Fatal("the bad map loads")
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"valid", []string{good}, 0, "good.json: valid, version sha256:", nil},
		{"yaml", []string{yamlDoc}, 0, "good.yaml: valid, version sha256:", nil},
		{"invalid", []string{bad}, 1, "", strings.Split(wantErr.Error(), "; ")},
		{"unknown key", []string{unknownKey}, 1, "", []string{"perod"}},
		{"partial without --partial", []string{partial}, 1, "", []string{"modbusMaps: at least one map is required"}},
		{"partial", []string{"--partial", partial}, 0, "partial.json: valid", nil},
		{"missing file", []string{filepath.Join(t.TempDir(), "none.json")}, 1, "", []string{"no such file"}},
		{"no file", nil, 2, "", []string{"missing FILE"}},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(append([]string{"map", "validate"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out, tt.stdout) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q", tt.name, code, out, errOut, tt.code, tt.stdout)
		}
		for _, s := range tt.stderr {
			if !strings.Contains(errOut, s) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, errOut, s)
			}
		}
	}
	// --json lists every problem with its path
	code, out, _ := runCLI("map", "validate", "--json", bad)
	var doc struct {
		Valid  bool
		Errors []struct{ Path, Message string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 1 || doc.Valid || len(doc.Errors) != 2 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	paths := []string{doc.Errors[0].Path, doc.Errors[1].Path}
	for _, want := range []string{"modbusMaps.meter[2].datatype", "modbusSlaves[1].map"} {
		found := false
		for _, p := range paths {
			found = found || p == want
		}
		if !found {
			t.Errorf("--json: paths %v lack %s", paths, want)
		}
	}
	// the version is the protocol's, whitespace and key order aside
	m, err := readMap(good, false)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := control.MapVersion([]byte(strings.Join(strings.Fields(baseMap), "")))
	if m.Version != want {
		t.Errorf("version %s, want %s", m.Version, want)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func load(t *testing.T, doc string) *settings.Settings {
	t.Helper()
	s, err := settings.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiffSettings(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(string) string
		want     []slaveDiff
		settings []string
	}{
		{"nothing", func(s string) string { return s }, []slaveDiff{
			{Slave: "10.0.0.5:502/1", Map: "meter", Status: diffUnchanged},
			{Slave: "10.0.0.5:502/2", Map: "meter", Status: diffUnchanged},
			{Slave: "/dev/ttyUSB0/3", Map: "hvac", Status: diffUnchanged},
		}, nil},
		{"a map's variables change on every slave that uses it", func(s string) string {
			s = strings.Replace(s, `{"name": "current", "type": "holding", "address": 2, "datatype": "32float"},`, ``, 1)
			s = strings.Replace(s, `"address": 10, "datatype": "32uint"}`, `"address": 10, "datatype": "32uint", "factor": 0.1},
      {"name": "power", "type": "holding", "address": 20, "datatype": "32float"}`, 1)
			return strings.Replace(s, `"address": 0, "datatype": "32float"`, `"address": 0, "datatype": "32float", "order": "CDAB"`, 1)
		}, []slaveDiff{
			{Slave: "10.0.0.5:502/1", Map: "meter", Status: diffChanged, Added: []string{"power"}, Removed: []string{"current"},
				Changed: []variableChange{{"voltage", []string{`order: (unset) -> "CDAB"`}}, {"counter", []string{"factor: (unset) -> 0.1"}}}},
			{Slave: "10.0.0.5:502/2", Map: "meter", Status: diffChanged, Added: []string{"power"}, Removed: []string{"current"},
				Changed: []variableChange{{"voltage", []string{`order: (unset) -> "CDAB"`}}, {"counter", []string{"factor: (unset) -> 0.1"}}}},
			{Slave: "/dev/ttyUSB0/3", Map: "hvac", Status: diffUnchanged},
		}, nil},
		{"slaves added, removed and moved to another map", func(s string) string {
			s = strings.Replace(s, `{"ip": "10.0.0.5", "slaveId": 2, "map": "meter", "period": 5},`, `{"ip": "10.0.0.6", "port": 1502, "slaveId": 2, "map": "meter"},`, 1)
			return strings.Replace(s, `"slaveId": 3, "map": "hvac"`, `"slaveId": 3, "map": "meter"`, 1)
		}, []slaveDiff{
			{Slave: "10.0.0.5:502/1", Map: "meter", Status: diffUnchanged},
			{Slave: "10.0.0.6:1502/2", Map: "meter", Status: diffAdded, Added: []string{"voltage", "current", "counter"}},
			{Slave: "/dev/ttyUSB0/3", Map: "meter", Status: diffChanged, Fields: []string{`map: "hvac" -> "meter"`},
				Added: []string{"voltage", "current", "counter"}, Removed: []string{"mode"}},
			{Slave: "10.0.0.5:502/2", Map: "meter", Status: diffRemoved, Removed: []string{"voltage", "current", "counter"}},
		}, nil},
		{"slave and global settings", func(s string) string {
			s = strings.Replace(s, `"map": "meter", "period": 5}`, `"map": "meter", "period": 2, "timeout": 0.5}`, 1)
			return strings.Replace(s, `"period": 1`, `"period": 2, "logLevel": "Info"`, 1)
		}, []slaveDiff{
			{Slave: "10.0.0.5:502/1", Map: "meter", Status: diffUnchanged},
			{Slave: "10.0.0.5:502/2", Map: "meter", Status: diffChanged, Fields: []string{"period: 5 -> 2", "timeout: (unset) -> 0.5"}},
			{Slave: "/dev/ttyUSB0/3", Map: "hvac", Status: diffUnchanged},
		}, []string{`logLevel: (unset) -> "Info"`, "period: 1 -> 2"}},
	}
	for _, tt := range tests {
		got := diffSettings(load(t, baseMap), load(t, tt.edit(baseMap)))
		if !reflect.DeepEqual(got.Slaves, tt.want) {
			gb, _ := json.MarshalIndent(got.Slaves, "", " ")
			t.Errorf("%s: slaves\n%s", tt.name, gb)
		}
		if len(got.Settings) != len(tt.settings) || (len(tt.settings) > 0 && !reflect.DeepEqual(got.Settings, tt.settings)) {
			t.Errorf("%s: settings %q, want %q", tt.name, got.Settings, tt.settings)
		}
		if got.Changed() != (tt.name != "nothing") {
			t.Errorf("%s: Changed() = %v", tt.name, got.Changed())
		}
	}
}

func TestDiffNeverPrintsSecrets(t *testing.T) {
	withMQTT := func(pw string) string {
		return strings.Replace(baseMap, `"period": 1`, `"period": 1, "mqtt": {"host": "broker", "credentials": {"username": "gw", "password": "`+pw+`"}}`, 1)
	}
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"same password", withMQTT("s3cret"), withMQTT("s3cret"), nil},
		{"changed password", withMQTT("s3cret"), withMQTT("n3w-s3cret"), []string{"mqtt.credentials.password: changed"}},
		{"the running map's password is redacted", withMQTT(control.Redacted), withMQTT("n3w-s3cret"), nil},
		{"mqtt added", baseMap, withMQTT("n3w-s3cret"), []string{"mqtt.credentials.password: changed",
			`mqtt: (unset) -> {"host":"broker","credentials":{"username":"gw","password":"*****"}}`}},
	}
	for _, tt := range tests {
		d := diffSettings(load(t, tt.old), load(t, tt.new))
		if !reflect.DeepEqual(d.Settings, tt.want) {
			t.Errorf("%s: settings %q, want %q", tt.name, d.Settings, tt.want)
		}
		var b strings.Builder
		d.print(&b)
		if strings.Contains(b.String(), "s3cret") {
			t.Errorf("%s: the diff prints a password:\n%s", tt.name, b.String())
		}
	}
}

func TestMapDiffAgainst(t *testing.T) {
	old := writeTemp(t, "old.json", baseMap)
	newer := writeTemp(t, "new.json", strings.Replace(baseMap, `"address": 2, "datatype": "32float"`, `"address": 4, "datatype": "32float"`, 1))
	code, out, errOut := runCLI("map", "diff", "--against", old, newer)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"--- " + old + " (sha256:", "+++ " + newer + " (sha256:",
		"slave 10.0.0.5:502/1 (map meter): changed\n  ~ current: address: 2 -> 4\n",
		"slave 10.0.0.5:502/2 (map meter): changed\n",
		"1 slave(s) unchanged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI("map", "diff", "--json", "--against", old, old)
	var d struct {
		Changed bool
		Slaves  []slaveDiff
	}
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Changed || len(d.Slaves) != 3 {
		t.Errorf("--json of equal files: exit %d, %v\n%s", code, err, out)
	}
	for _, args := range [][]string{{"map", "diff", newer}, {"map", "diff", "--edge", "e1", "--against", old, newer}} {
		if code, _, _ := runCLI(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
