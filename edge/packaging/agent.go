package packaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gridedge/gridedge/edge/agent"
)

// AgentUnit is the agent's systemd unit name.
const AgentUnit = "gridedge-agent.service"

// SystemdUnitDir is where packages install systemd units.
const SystemdUnitDir = "/usr/lib/systemd/system"

// GenericProfile is the profile of the architecture-only agent packages
// (make packages): the standard paths, the agent's default buffer bounds, no
// serial ports named. unit is the agent's systemd unit file.
func GenericProfile(goarch string, goarm int, unit string) *Profile {
	p := &Profile{
		Name:        "generic-" + debArch(goarch, goarm),
		Description: "any Linux gateway, " + debArch(goarch, goarm),
		GOOS:        "linux", GOARCH: goarch, GOARM: goarm,
		Binary:  "gridedge-agent",
		Paths:   Paths{Binary: "/usr/bin/gridedge-agent", Config: "/etc/gridedge/agent.yaml", DataDir: "/var/lib/gridedge"},
		Service: Service{Unit: filepath.Base(unit), User: "gridedge"},
		dir:     filepath.Dir(unit),
	}
	return p
}

// AgentConfigs are the default agent config and SETTINGS document a
// profile installs: agent.yaml and settings.yaml next to it.
type AgentConfigs struct {
	Agent, Settings []byte
}

// DefaultAgentConfigs renders the profile's default configuration and checks
// it with the agent's own loader, so a profile cannot ship a config the
// agent refuses.
func DefaultAgentConfigs(p *Profile) (AgentConfigs, error) {
	tree := map[string]any{
		"edge":         map[string]any{"id": "gateway"},
		"dataDir":      p.Paths.DataDir,
		"settingsFile": "settings.yaml",
	}
	buf := map[string]any{}
	if p.Buffer.MaxBytes > 0 {
		buf["maxBytes"] = p.Buffer.MaxBytes
	}
	if p.Buffer.MaxAge > 0 {
		buf["maxAge"] = shortDuration(time.Duration(p.Buffer.MaxAge))
	}
	if len(buf) > 0 {
		tree["buffer"] = buf
	}
	for k, v := range p.Config {
		tree[k] = v
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(tree); err != nil {
		return AgentConfigs{}, fmt.Errorf("profile %s: render agent config: %w", p.Name, err)
	}
	var c AgentConfigs
	c.Agent = append([]byte(fmt.Sprintf(`# GridEdge edge agent on %s (firmware profile %s).
# Every field is described in docs/configuration.md. Set edge.id (unique in
# the deployment), and hub.url and hub.password to reach the hub; without
# hub.url the agent runs standalone and keeps every reading in its buffer.
# Then: systemctl start gridedge-agent (reload rules: systemctl reload).
`, p.describe(), p.Name)), body.Bytes()...)
	c.Settings = exampleSettings(p)

	// the agent's loader resolves settingsFile next to the config
	dir, err := os.MkdirTemp("", "gridedge-pkg-config-")
	if err != nil {
		return AgentConfigs{}, fmt.Errorf("profile %s: check the default config: %w", p.Name, err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(name, c.Agent, 0o600); err != nil {
		return AgentConfigs{}, fmt.Errorf("profile %s: check the default config: %w", p.Name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "settings.yaml"), c.Settings, 0o600); err != nil {
		return AgentConfigs{}, fmt.Errorf("profile %s: check the default config: %w", p.Name, err)
	}
	if _, err := agent.Load(name); err != nil {
		return AgentConfigs{}, fmt.Errorf("profile %s: the default agent config does not load: %w", p.Name, err)
	}
	return c, nil
}

// shortDuration is d as a config value without zero minutes and seconds:
// 720h, not 720h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (p *Profile) describe() string {
	if p.Description != "" {
		return p.Description
	}
	return p.Name
}

// exampleSettings is a SETTINGS document with one meter (an Eastron SDM630,
// modbus-maps/eastron-sdm630.json) on the profile's first serial port, or
// over Modbus TCP without serial ports, to be replaced by the site's devices.
func exampleSettings(p *Profile) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# EXAMPLE Modbus SETTINGS (X-FLEX format, docs/configuration.md): replace\n")
	fmt.Fprintf(&b, "# the map and the slave with the site's devices (maps of real devices: modbus-maps/).\n")
	if len(p.SerialPorts) > 0 {
		fmt.Fprintf(&b, "# Serial ports of %s: %s\n", p.Name, strings.Join(p.SerialPorts, ", "))
	}
	b.WriteString(`modbusMaps:
  SDM630:
    - {name: voltage_l1_n, type: input, address: 0, datatype: 32float}
    - {name: current_l1, type: input, address: 6, datatype: 32float}
    - {name: total_active_power, type: input, address: 52, datatype: 32float}
    - {name: frequency, type: input, address: 70, datatype: 32float}
modbusSlaves:
`)
	if len(p.SerialPorts) > 0 {
		fmt.Fprintf(&b, "  - {serialPort: %s, baudRate: 9600, parity: N, stopBits: 1, slaveId: 1, map: SDM630}\n", p.SerialPorts[0])
	} else {
		b.WriteString("  - {ip: 192.0.2.10, port: 502, slaveId: 1, map: SDM630}\n")
	}
	b.WriteString("period: 10\n")
	return b.Bytes()
}

// DropIn is the systemd drop-in that applies the profile to the unit:
// paths, user, memory bound and serial-port access.
func (p *Profile) DropIn() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Firmware profile %s (generated by gridedge-pkg). Local changes go in\n", p.Name)
	fmt.Fprintf(&b, "# /etc/systemd/system/%s.d/ (systemctl edit gridedge-agent), which overrides this.\n", AgentUnit)
	b.WriteString("[Service]\n")
	b.WriteString("ExecStart=\n")
	fmt.Fprintf(&b, "ExecStart=%s --config %s\n", p.Paths.Binary, p.Paths.Config)
	fmt.Fprintf(&b, "User=%s\nGroup=%s\n", p.Service.User, p.Service.User)
	b.WriteString("StateDirectory=\n")
	fmt.Fprintf(&b, "StateDirectory=%s\n", strings.TrimPrefix(p.Paths.DataDir, "/var/lib/"))
	b.WriteString("ReadWritePaths=\n")
	fmt.Fprintf(&b, "ReadWritePaths=%s\n", p.Paths.DataDir)
	if p.Service.MemoryMax != "" {
		fmt.Fprintf(&b, "MemoryMax=%s\n", p.Service.MemoryMax)
	}
	if len(p.SerialPorts) > 0 {
		fmt.Fprintf(&b, "# serial ports: %s\n", strings.Join(p.SerialPorts, " "))
		b.WriteString("SupplementaryGroups=dialout\n")
	}
	return b.Bytes()
}

// AgentPackage is the agent's package for a profile: binary is the agent
// built for the profile's target and version the Debian version.
func AgentPackage(p *Profile, binary, version string) (*Package, error) {
	cfg, err := DefaultAgentConfigs(p)
	if err != nil {
		return nil, err
	}
	unit, err := os.ReadFile(p.UnitPath())
	if err != nil {
		return nil, fmt.Errorf("profile %s: systemd unit: %w", p.Name, err)
	}
	profileText, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	etc := path.Dir(p.Paths.Config)
	settingsPath := path.Join(etc, "settings.yaml")
	svc := service{
		Package: "gridedge-agent", Unit: AgentUnit, User: p.Service.User, Comment: "GridEdge edge agent",
		DataDir: p.Paths.DataDir, Secrets: []string{p.Paths.Config, settingsPath},
		Hint: fmt.Sprintf("gridedge-agent: set the edge id, the hub and the devices in %s and %s, then: systemctl start gridedge-agent", p.Paths.Config, settingsPath),
	}
	scripts, err := svc.scripts()
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("GridEdge edge agent (%s)\n"+
		" Polls Modbus devices, decodes registers into measurements, keeps every\n"+
		" reading in a crash-safe local buffer and forwards it to the GridEdge hub\n"+
		" over a NATS leaf-node link. Firmware profile: %s.", p.describe(), p.Name)
	pkg := &Package{
		Name: "gridedge-agent", Version: version, Arch: p.DebArch(), Description: desc,
		Files: []File{
			{Dest: p.Paths.Binary, Source: binary, Mode: 0o755},
			{Dest: path.Join(SystemdUnitDir, AgentUnit), Data: unit, Mode: 0o644},
			{Dest: path.Join(SystemdUnitDir, AgentUnit+".d", "profile.conf"), Data: p.DropIn(), Mode: 0o644},
			{Dest: p.Paths.Config, Data: cfg.Agent, Mode: 0o640, Conffile: true},
			{Dest: settingsPath, Data: cfg.Settings, Mode: 0o640, Conffile: true},
			{Dest: "/usr/share/doc/gridedge-agent/firmware-profile.json", Data: append(profileText, '\n'), Mode: 0o644},
		},
		Dirs:    []Dir{{Dest: etc, Mode: 0o755}, {Dest: p.Paths.DataDir, Mode: 0o750}},
		Scripts: scripts,
	}
	return pkg, pkg.Validate()
}
