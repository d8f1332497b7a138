package vsensors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
)

// sensorJSON is one sensor of collection grid_v whose value is the sum of
// the given references.
func settingsOf(t *testing.T, sensors map[string][]string) *vsensor.Settings {
	t.Helper()
	s := &vsensor.Settings{Sensors: []vsensor.Group{{Collection: "grid_v"}}}
	for _, id := range []string{"A", "B", "C", "D"} {
		refs, ok := sensors[id]
		if !ok {
			continue
		}
		s.Sensors[0].VirtualSensors = append(s.Sensors[0].VirtualSensors, vsensor.Sensor{ID: id,
			Template: map[string]any{"measurements": map[string]any{"p": map[string]any{"value": strings.Join(refs, " + ")}}}})
	}
	return s
}

func TestLoopsRefused(t *testing.T) {
	tests := []struct {
		name    string
		sensors map[string][]string
		want    string // "" = accepted
	}{
		{"independent", map[string][]string{"A": {"{grid_m.X>measurements.p.value}", "{grid_m.Y>measurements.p.value}"}, "B": {"{grid_m.X>measurements.p.value}", "1"}}, ""},
		{"chain", map[string][]string{"A": {"{grid_m.X>measurements.p.value}", "1"}, "B": {"{grid_v.A>measurements.p.value}", "1"}, "C": {"{grid_v.B>measurements.p.value}", "{grid_v.A>measurements.p.value}"}}, ""},
		{"self", map[string][]string{"A": {"{grid_v.A>measurements.p.value}", "{grid_m.X>measurements.p.value}"}}, "grid_v.A -> grid_v.A"},
		{"two", map[string][]string{"A": {"{grid_v.B>measurements.p.value}", "1"}, "B": {"{grid_v.A>measurements.p.value}", "1"}}, "grid_v.A -> grid_v.B -> grid_v.A"},
		{"three, the manual's form", map[string][]string{"A": {"{grid_m.X>measurements.p.value}", "{grid_v.C}>measurements.p.value"}, "B": {"{grid_v.A>measurements.p.value}", "1"}, "C": {"{grid_v.B>measurements.p.value|0}", "1"}},
			"grid_v.A -> grid_v.C -> grid_v.B -> grid_v.A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := analyse(settingsOf(t, tt.sensors))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want accepted", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), "loop: "+tt.want)):
				t.Fatalf("got %v, want a loop %s", err, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.json")
	if err := os.WriteFile(loop, []byte(`{"sensors":[{"collection":"grid_v","virtualsensors":[{"id":"A","template":{"x":"{grid_v.A>x} + 1"}}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"off", Config{}, ""},
		{"seed file", Config{Enabled: true, SettingsFile: "testdata/seed.json"}, ""},
		{"nothing", Config{Enabled: true}, "services.vsensors.settings: settings or settingsFile is required"},
		{"both", Config{Enabled: true, SettingsFile: "testdata/seed.json", Settings: &vsensor.Settings{}}, "settings and settingsFile are exclusive"},
		{"missing file", Config{Enabled: true, SettingsFile: filepath.Join(dir, "nope.json")}, "nope.json"},
		{"bad settings", Config{Enabled: true, Settings: &vsensor.Settings{Sensors: []vsensor.Group{{Collection: "nounderscore"}}}},
			`services.vsensors.settings.sensors[0].collection: "nounderscore" is not <layer>_<collection>`},
		{"loop", Config{Enabled: true, SettingsFile: loop}, "services.vsensors.settings: virtual sensors form a loop: grid_v.A -> grid_v.A"},
		{"lease not above tick", Config{Enabled: true, SettingsFile: "testdata/seed.json", Tick: config.Duration(5e9), Lease: config.Duration(5e9)}, "services.vsensors.lease: (5s) must be longer than tick (5s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Defaults()
			var es config.Errors
			c.Validate("services.vsensors", &es)
			err := es.Err()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
