package packaging

import (
	"fmt"
	"os"
	"path"
)

// HubUnit is the hub's systemd unit name.
const HubUnit = "gridedge-hub.service"

// Where the hub package installs its files.
const (
	HubBinary  = "/usr/bin/gridedge-hub"
	HubConfig  = "/etc/gridedge/hub.yaml"
	HubDataDir = "/var/lib/gridedge-hub"
	HubUser    = "gridedge-hub"
)

// hubConfig is the hub's default config: the packaged paths, everything
// else at the defaults (REST API and NATS clients on loopback, leaf nodes on
// every interface). gridedge-hub --check-config checks it in
// scripts/test-packages.sh.
const hubConfig = `# GridEdge hub. Every field is described in docs/configuration.md.
# The REST API (127.0.0.1:8080) and NATS clients (127.0.0.1:4222) listen on
# loopback; edges connect as leaf nodes on :7422 once listed under edges[].
# The admin user is created at the first start with a generated password,
# logged once (journalctl -u gridedge-hub); to choose it, set
# GRIDEDGE_ADMIN_PASSWORD with systemctl edit gridedge-hub before the start.
dataDir: ` + HubDataDir + `
`

// HubPackage is the hub's package for a Debian architecture (amd64 or
// arm64): binary is the hub built for it, unit its systemd unit file.
func HubPackage(arch, binary, unit, version string) (*Package, error) {
	if arch != "amd64" && arch != "arm64" {
		return nil, fmt.Errorf("hub package: arch %q: the hub is packaged for amd64 and arm64", arch)
	}
	unitText, err := os.ReadFile(unit)
	if err != nil {
		return nil, fmt.Errorf("hub package: systemd unit: %w", err)
	}
	svc := service{
		Package: "gridedge-hub", Unit: HubUnit, User: HubUser, Comment: "GridEdge hub",
		DataDir: HubDataDir, Secrets: []string{HubConfig},
		Hint: "gridedge-hub: review " + HubConfig + " (edges, layers, listeners), then: systemctl start gridedge-hub",
	}
	scripts, err := svc.scripts()
	if err != nil {
		return nil, err
	}
	pkg := &Package{
		Name: "gridedge-hub", Version: version, Arch: arch,
		Description: "GridEdge hub\n" +
			" Stores the layers, collections and history the GridEdge edge agents\n" +
			" forward, serves them through the X-FLEX REST API v2 and DDP, and runs\n" +
			" the NATS server with JetStream the edges connect to as leaf nodes.",
		Files: []File{
			{Dest: HubBinary, Source: binary, Mode: 0o755},
			{Dest: path.Join(SystemdUnitDir, HubUnit), Data: unitText, Mode: 0o644},
			{Dest: HubConfig, Data: []byte(hubConfig), Mode: 0o640, Conffile: true},
		},
		Dirs:    []Dir{{Dest: path.Dir(HubConfig), Mode: 0o755}, {Dest: HubDataDir, Mode: 0o750}},
		Scripts: scripts,
	}
	return pkg, pkg.Validate()
}
