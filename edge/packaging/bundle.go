package packaging

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// BundleDir is the top directory of every first-boot bundle.
const BundleDir = "gridedge-firstboot"

// BundleFileName is the file name of a profile's first-boot bundle.
func BundleFileName(p *Profile, version string) string {
	return fmt.Sprintf("gridedge-firstboot_%s_%s.tar.gz", p.Name, version)
}

// firstboot installs the bundle on the gateway. The bundle's config goes to
// /etc before the package, and dpkg keeps it (--force-confold), so a gateway
// comes up with its site's edge id, hub and devices, not the examples.
const firstboot = `#!/bin/sh
# Installs the GridEdge agent with this bundle's configuration, on the
# gateway's first boot (or by hand): sh firstboot.sh. Needs root.
set -eu
cd "$(dirname "$0")"
install -d -m 0755 %[1]s
for f in %[2]s; do
	if [ ! -e "%[1]s/$f" ]; then
		install -m 0640 "etc/$f" "%[1]s/$f"
	fi
done
dpkg -i --force-confold --force-confdef ./%[3]s
if [ -d /run/systemd/system ]; then
	systemctl enable --now gridedge-agent.service
else
	echo "systemd is not running: start gridedge-agent by hand"
fi
`

const bundleReadme = `GridEdge first-boot bundle: firmware profile %[1]s, agent %[2]s (%[3]s)

  %[4]s      the agent package
  etc/%[5]s, etc/settings.yaml
                  the agent's configuration: EDIT before flashing
                  (edge.id, hub.url, hub.password, the devices)
  firstboot.sh    installs the configuration into %[6]s (files
                  already there are kept), then the package, and
                  starts the agent
  profile.json    the firmware profile

Copy this directory onto the gateway's image (e.g. /opt/gridedge-firstboot)
and run "sh firstboot.sh" once as root on the first boot (from a
first-boot hook of the image, or by hand). See docs/operations.md,
"Installing from packages".
`

// WriteBundle writes the profile's first-boot bundle (tar.gz) to w: the
// package file deb (built by AgentPackage for the same profile), the
// default configuration to edit for the site, an install script and the
// profile. mtime stamps every entry.
func WriteBundle(w io.Writer, p *Profile, pkg *Package, deb string, mtime time.Time) error {
	cfg, err := DefaultAgentConfigs(p)
	if err != nil {
		return err
	}
	debData, err := os.ReadFile(deb)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", p.Name, err)
	}
	profileText := pkg.file("/usr/share/doc/gridedge-agent/firmware-profile.json")
	etc := path.Dir(p.Paths.Config)
	conf := path.Base(p.Paths.Config)
	debName := filepath.Base(deb)
	entries := []struct {
		name string
		mode fs.FileMode
		data []byte
	}{
		{"README", 0o644, []byte(fmt.Sprintf(bundleReadme, p.Name, pkg.Version, pkg.Arch, debName, conf, etc))},
		{"firstboot.sh", 0o755, []byte(fmt.Sprintf(firstboot, etc, conf+" settings.yaml", debName))},
		{"profile.json", 0o644, profileText},
		{"etc/" + conf, 0o640, cfg.Agent},
		{"etc/settings.yaml", 0o640, cfg.Settings},
		{debName, 0o644, debData},
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	dirs := []string{BundleDir + "/", BundleDir + "/etc/"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Uname: "root", Gname: "root"}); err != nil {
			return fmt.Errorf("bundle %s: %w", p.Name, err)
		}
	}
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: BundleDir + "/" + e.name, Mode: int64(e.mode),
			Size: int64(len(e.data)), ModTime: mtime, Uname: "root", Gname: "root"}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("bundle %s: %s: %w", p.Name, e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("bundle %s: %s: %w", p.Name, e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("bundle %s: %w", p.Name, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("bundle %s: %w", p.Name, err)
	}
	return nil
}

// WriteBundleFile writes the bundle into dir as BundleFileName and returns
// its path.
func WriteBundleFile(dir string, p *Profile, pkg *Package, deb string, mtime time.Time) (string, error) {
	name := filepath.Join(dir, BundleFileName(p, pkg.Version))
	f, err := os.Create(name)
	if err != nil {
		return "", fmt.Errorf("bundle %s: %w", p.Name, err)
	}
	if err := WriteBundle(f, p, pkg, deb, mtime); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("bundle %s: write %s: %w", p.Name, name, err)
	}
	return name, nil
}

// file returns the data of the package's file at dest (nil if none or read
// from disk).
func (p *Package) file(dest string) []byte {
	for _, f := range p.Files {
		if f.Dest == dest {
			return f.Data
		}
	}
	return nil
}
