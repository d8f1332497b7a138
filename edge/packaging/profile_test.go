package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validProfile = `name: test-board
goos: linux
goarch: arm
goarm: 7
binary: gridedge-agent-linux-armv7
serialPorts: [/dev/ttyS1]
paths:
  binary: /usr/bin/gridedge-agent
  config: /etc/gridedge/agent.yaml
  dataDir: /var/lib/gridedge
buffer:
  maxBytes: 1000000
  maxAge: 24h
service:
  unit: unit.service
  user: gridedge
  memoryMax: 128M
`

// writeProfile writes a profile and the unit it names into a new directory.
func writeProfile(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	unit, err := os.ReadFile(filepath.Join(repoRoot, "firmware-profiles", "systemd", AgentUnit))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "unit.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestLoadProfileErrors(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string
		want    []string
	}{
		{"valid", [2]string{}, nil},
		{"unknown field", [2]string{"goos: linux", "goos: linux\nserialport: /dev/ttyS1"}, []string{"serialport"}},
		{"goarm missing", [2]string{"goarm: 7\n", ""}, []string{"goarm: 0: want 5, 6 or 7"}},
		{"bad arch", [2]string{"goarch: arm\ngoarm: 7", "goarch: mips"}, []string{`goarch: "mips"`}},
		{"windows", [2]string{"goos: linux", "goos: windows"}, []string{`goos: "windows"`}},
		{"usr local", [2]string{"binary: /usr/bin/gridedge-agent", "binary: /usr/local/bin/gridedge-agent"}, []string{"paths.binary", "/usr/local"}},
		{"data dir elsewhere", [2]string{"dataDir: /var/lib/gridedge", "dataDir: /data/gridedge"}, []string{"paths.dataDir", "under /var/lib"}},
		{"relative config", [2]string{"config: /etc/gridedge/agent.yaml", "config: agent.yaml"}, []string{"paths.config", "clean absolute path"}},
		{"space in path", [2]string{"config: /etc/gridedge/agent.yaml", "config: /etc/grid edge/agent.yaml"}, []string{"paths.config"}},
		{"serial port", [2]string{"[/dev/ttyS1]", "[ttyS1]"}, []string{`serialPorts[0]: "ttyS1"`}},
		{"user", [2]string{"user: gridedge", "user: Grid Edge"}, []string{"service.user"}},
		{"memory", [2]string{"memoryMax: 128M", "memoryMax: 128MB"}, []string{"service.memoryMax"}},
		{"unit missing", [2]string{"unit: unit.service", "unit: none.service"}, []string{"service.unit", "none.service"}},
		{"config sets package paths", [2]string{"service:", "config:\n  dataDir: /tmp\n  logLevel: info\nservice:"}, []string{"config.dataDir: is set by the package"}},
		{"every problem at once", [2]string{"goos: linux\ngoarch: arm\ngoarm: 7\nbinary: gridedge-agent-linux-armv7", "goos: plan9\ngoarch: arm\ngoarm: 7\nbinary: a/b"}, []string{"goos", "binary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := validProfile
			if tt.replace[0] != "" {
				if !strings.Contains(text, tt.replace[0]) {
					t.Fatalf("test profile has no %q", tt.replace[0])
				}
				text = strings.Replace(text, tt.replace[0], tt.replace[1], 1)
			}
			p, err := LoadProfile(writeProfile(t, text))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("LoadProfile = %v, want nil", err)
				}
				if p.DebArch() != "armhf" {
					t.Errorf("DebArch = %s, want armhf", p.DebArch())
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadProfile succeeded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadProfile = %v, want an error containing %q", err, w)
				}
			}
		})
	}
}

func TestProfileConfigReachesTheAgent(t *testing.T) {
	text := strings.Replace(validProfile, "service:", "config:\n  logLevel: info\n  domain: site7\nservice:", 1)
	p, err := LoadProfile(writeProfile(t, text))
	if err != nil {
		t.Fatal(err)
	}
	c, err := DefaultAgentConfigs(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"logLevel: info", "domain: site7", "dataDir: /var/lib/gridedge", "maxBytes: 1000000", "maxAge: 24h", "settingsFile: settings.yaml"} {
		if !bytes.Contains(c.Agent, []byte(want)) {
			t.Errorf("agent.yaml lacks %q:\n%s", want, c.Agent)
		}
	}

	// a config field the agent refuses fails the package, not the gateway
	bad := strings.Replace(validProfile, "service:", "config:\n  logLevel: chatty\nservice:", 1)
	p, err = LoadProfile(writeProfile(t, bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AgentPackage(p, fakeBinary(t), "1.0.0"); err == nil || !strings.Contains(err.Error(), "the default agent config does not load") {
		t.Errorf("AgentPackage with logLevel chatty = %v, want the agent's config error", err)
	}
}

func TestShortDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{720 * time.Hour, "720h"}, {90 * time.Minute, "1h30m"}, {30 * time.Second, "30s"}, {time.Hour + time.Second, "1h0m1s"}, {10 * time.Minute, "10m"}} {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestBundle(t *testing.T) {
	p, err := LoadProfile(filepath.Join(repoRoot, "firmware-profiles", "raspberry-pi-4.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := AgentPackage(p, fakeBinary(t), "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	deb, err := pkg.WriteDebFile(out, testTime)
	if err != nil {
		t.Fatal(err)
	}
	name, err := WriteBundleFile(out, p, pkg, deb, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := filepath.Base(name), "gridedge-firstboot_raspberry-pi-4_1.2.0.tar.gz"; got != want {
		t.Errorf("bundle file = %s, want %s", got, want)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	debData, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	files := readTarGz(t, data)
	want := map[string]os.FileMode{
		"gridedge-firstboot/README":                         0o644,
		"gridedge-firstboot/firstboot.sh":                   0o755,
		"gridedge-firstboot/profile.json":                   0o644,
		"gridedge-firstboot/etc/agent.yaml":                 0o640,
		"gridedge-firstboot/etc/settings.yaml":              0o640,
		"gridedge-firstboot/gridedge-agent_1.2.0_arm64.deb": 0o644,
		"gridedge-firstboot":                                0o755,
		"gridedge-firstboot/etc":                            0o755,
	}
	for n, mode := range want {
		if f := files[n]; f == nil || f.mode != mode {
			t.Errorf("%s = %+v, want mode %v", n, f, mode)
		}
	}
	if len(files) != len(want) {
		t.Errorf("bundle has %d entries, want %d", len(files), len(want))
	}
	if !bytes.Equal(files["gridedge-firstboot/gridedge-agent_1.2.0_arm64.deb"].data, debData) {
		t.Error("the bundle's package differs from the package built")
	}
	script := string(files["gridedge-firstboot/firstboot.sh"].data)
	for _, w := range []string{"dpkg -i --force-confold --force-confdef ./gridedge-agent_1.2.0_arm64.deb", "for f in agent.yaml settings.yaml", `install -m 0640 "etc/$f" "/etc/gridedge/$f"`} {
		if !strings.Contains(script, w) {
			t.Errorf("firstboot.sh lacks %q:\n%s", w, script)
		}
	}
	if !bytes.Contains(files["gridedge-firstboot/etc/settings.yaml"].data, []byte("serialPort: /dev/ttyUSB0")) {
		t.Errorf("the bundle's settings do not use /dev/ttyUSB0")
	}
}
