package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository's top directory (firmware-profiles/ is there).
const repoRoot = "../.."

var testTime = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// deb is what a .deb holds, read back the way dpkg reads it: an ar archive
// of debian-binary, control.tar.gz and data.tar.gz.
type deb struct {
	members []string
	control map[string]string   // control.tar.gz: name → text
	files   map[string]*tarFile // data.tar.gz: path without "./" → entry
}

type tarFile struct {
	mode       fs.FileMode
	dir        bool
	uname      string
	gname      string
	data       []byte
	modTimeUTC time.Time
}

func readDeb(t *testing.T, data []byte) deb {
	t.Helper()
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(data, []byte(magic)) {
		t.Fatalf("not an ar archive: starts with %q", data[:min(8, len(data))])
	}
	d := deb{control: map[string]string{}, files: map[string]*tarFile{}}
	rest := data[len(magic):]
	for len(rest) > 0 {
		if len(rest) < 60 {
			t.Fatalf("truncated ar header: %d bytes left", len(rest))
		}
		hdr := rest[:60]
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(hdr[48:58])))
		if err != nil || string(hdr[58:60]) != "`\n" {
			t.Fatalf("bad ar header %q", hdr)
		}
		body := rest[60 : 60+size]
		rest = rest[60+size+size%2:]
		d.members = append(d.members, name)
		switch name {
		case "control.tar.gz":
			for n, f := range readTarGz(t, body) {
				if !f.dir {
					d.control[n] = string(f.data)
				}
			}
		case "data.tar.gz":
			d.files = readTarGz(t, body)
		}
	}
	return d
}

func readTarGz(t *testing.T, data []byte) map[string]*tarFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]*tarFile{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		out[name] = &tarFile{mode: fs.FileMode(h.Mode).Perm(), dir: h.Typeflag == tar.TypeDir,
			uname: h.Uname, gname: h.Gname, data: body, modTimeUTC: h.ModTime.UTC()}
	}
}

// fakeBinary is the file packaged as the binary: its bytes are opaque to
// the package builder.
func fakeBinary(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "gridedge-binary")
	if err := os.WriteFile(name, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}

func buildDeb(t *testing.T, p *Package) deb {
	t.Helper()
	var b bytes.Buffer
	if err := p.WriteDeb(&b, testTime); err != nil {
		t.Fatalf("WriteDeb: %v", err)
	}
	return readDeb(t, b.Bytes())
}

func controlField(t *testing.T, control, field string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(control))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+": "); ok {
			return v
		}
	}
	t.Fatalf("control has no %s field:\n%s", field, control)
	return ""
}

// TestEveryProfileBuilds builds the agent package of every profile in
// firmware-profiles/ and checks what dpkg would install.
func TestEveryProfileBuilds(t *testing.T) {
	profiles, err := LoadProfiles(filepath.Join(repoRoot, "firmware-profiles"))
	if err != nil {
		t.Fatal(err)
	}
	wantArch := map[string]string{"raspberry-pi-4": "arm64", "generic-armv7": "armhf"}
	for _, p := range profiles {
		t.Run(p.Name, func(t *testing.T) {
			if want, ok := wantArch[p.Name]; ok && p.DebArch() != want {
				t.Errorf("DebArch = %s, want %s", p.DebArch(), want)
			}
			pkg, err := AgentPackage(p, fakeBinary(t), "1.2.0")
			if err != nil {
				t.Fatal(err)
			}
			d := buildDeb(t, pkg)
			if !slices.Equal(d.members, []string{"debian-binary", "control.tar.gz", "data.tar.gz"}) {
				t.Errorf("ar members = %v, want debian-binary, control.tar.gz, data.tar.gz", d.members)
			}
			if got := controlField(t, d.control["control"], "Architecture"); got != p.DebArch() {
				t.Errorf("Architecture = %s, want %s", got, p.DebArch())
			}
			if got := controlField(t, d.control["control"], "Version"); got != "1.2.0" {
				t.Errorf("Version = %s, want 1.2.0", got)
			}
			wantFiles := map[string]fs.FileMode{
				"usr/bin/gridedge-agent":                                       0o755,
				"usr/lib/systemd/system/gridedge-agent.service":                0o644,
				"usr/lib/systemd/system/gridedge-agent.service.d/profile.conf": 0o644,
				"etc/gridedge/agent.yaml":                                      0o640,
				"etc/gridedge/settings.yaml":                                   0o640,
				"usr/share/doc/gridedge-agent/firmware-profile.json":           0o644,
			}
			for name, mode := range wantFiles {
				f, ok := d.files[name]
				switch {
				case !ok:
					t.Errorf("%s is not in the package", name)
				case f.dir:
					t.Errorf("%s is a directory, want a file", name)
				case f.mode != mode:
					t.Errorf("%s mode = %v, want %v", name, f.mode, mode)
				case f.uname != "root" || f.gname != "root":
					t.Errorf("%s owner = %s:%s, want root:root (postinst sets the group of secrets)", name, f.uname, f.gname)
				}
			}
			for name, f := range d.files {
				if _, ok := wantFiles[name]; !ok && !f.dir {
					t.Errorf("unexpected file %s in the package", name)
				}
				if !f.modTimeUTC.Equal(testTime) {
					t.Errorf("%s mtime = %v, want %v (reproducible)", name, f.modTimeUTC, testTime)
				}
			}
			if f := d.files["var/lib/gridedge"]; f == nil || !f.dir || f.mode != 0o750 {
				t.Errorf("var/lib/gridedge = %+v, want a directory with mode 0750", f)
			}
			if got, want := d.control["conffiles"], "/etc/gridedge/agent.yaml\n/etc/gridedge/settings.yaml\n"; got != want {
				t.Errorf("conffiles = %q, want %q", got, want)
			}
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				if !strings.HasPrefix(d.control[s], "#!/bin/sh\n") {
					t.Errorf("%s = %q, want a shell script", s, d.control[s])
				}
			}
			if !strings.Contains(d.control["postinst"], "useradd --system --gid gridedge") {
				t.Errorf("postinst does not create the user gridedge:\n%s", d.control["postinst"])
			}
			if !strings.Contains(d.control["postrm"], "rm -rf /var/lib/gridedge") || !strings.Contains(d.control["postrm"], "userdel gridedge") {
				t.Errorf("postrm does not purge the data and the user:\n%s", d.control["postrm"])
			}
			dropIn := string(d.files["usr/lib/systemd/system/gridedge-agent.service.d/profile.conf"].data)
			for _, want := range []string{"ExecStart=\nExecStart=/usr/bin/gridedge-agent --config /etc/gridedge/agent.yaml\n",
				"ReadWritePaths=/var/lib/gridedge\n", "MemoryMax=" + p.Service.MemoryMax + "\n", "SupplementaryGroups=dialout\n"} {
				if want == "SupplementaryGroups=dialout\n" && len(p.SerialPorts) == 0 {
					continue
				}
				if !strings.Contains(dropIn, want) {
					t.Errorf("drop-in lacks %q:\n%s", want, dropIn)
				}
			}
			settings := string(d.files["etc/gridedge/settings.yaml"].data)
			if len(p.SerialPorts) > 0 && !strings.Contains(settings, "serialPort: "+p.SerialPorts[0]) {
				t.Errorf("settings.yaml does not use the first serial port %s:\n%s", p.SerialPorts[0], settings)
			}
		})
	}
}

func TestGenericAgentPackages(t *testing.T) {
	unit := filepath.Join(repoRoot, "firmware-profiles", "systemd", AgentUnit)
	for _, tt := range []struct {
		goarch string
		goarm  int
		want   string
	}{{"amd64", 0, "amd64"}, {"arm64", 0, "arm64"}, {"arm", 7, "armhf"}} {
		t.Run(tt.want, func(t *testing.T) {
			p := GenericProfile(tt.goarch, tt.goarm, unit)
			if err := p.Validate(); err != nil {
				t.Fatalf("the generic profile is invalid: %v", err)
			}
			pkg, err := AgentPackage(p, fakeBinary(t), "0.0.0+gitabc1234")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := pkg.FileName(), "gridedge-agent_0.0.0+gitabc1234_"+tt.want+".deb"; got != want {
				t.Errorf("FileName = %s, want %s", got, want)
			}
			d := buildDeb(t, pkg)
			if got := controlField(t, d.control["control"], "Architecture"); got != tt.want {
				t.Errorf("Architecture = %s, want %s", got, tt.want)
			}
			unitText, _ := os.ReadFile(unit)
			if got := string(d.files["usr/lib/systemd/system/gridedge-agent.service"].data); got != string(unitText) {
				t.Errorf("the packaged unit differs from %s", unit)
			}
			dropIn := string(d.files["usr/lib/systemd/system/gridedge-agent.service.d/profile.conf"].data)
			if strings.Contains(dropIn, "MemoryMax") || strings.Contains(dropIn, "SupplementaryGroups") {
				t.Errorf("generic drop-in sets a memory bound or serial access:\n%s", dropIn)
			}
			if settings := string(d.files["etc/gridedge/settings.yaml"].data); !strings.Contains(settings, "ip: 192.0.2.10") {
				t.Errorf("generic settings.yaml has no Modbus TCP example:\n%s", settings)
			}
		})
	}
}

func TestHubPackage(t *testing.T) {
	unit := filepath.Join(repoRoot, "firmware-profiles", "systemd", HubUnit)
	pkg, err := HubPackage("arm64", fakeBinary(t), unit, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	d := buildDeb(t, pkg)
	want := map[string]fs.FileMode{
		"usr/bin/gridedge-hub":                        0o755,
		"usr/lib/systemd/system/gridedge-hub.service": 0o644,
		"etc/gridedge/hub.yaml":                       0o640,
	}
	for name, mode := range want {
		if f := d.files[name]; f == nil || f.mode != mode {
			t.Errorf("%s = %+v, want a file with mode %v", name, f, mode)
		}
	}
	if f := d.files["var/lib/gridedge-hub"]; f == nil || !f.dir || f.mode != 0o750 {
		t.Errorf("var/lib/gridedge-hub = %+v, want a directory with mode 0750", f)
	}
	if got := d.control["conffiles"]; got != "/etc/gridedge/hub.yaml\n" {
		t.Errorf("conffiles = %q, want /etc/gridedge/hub.yaml", got)
	}
	if !strings.Contains(d.control["postinst"], "useradd --system --gid gridedge-hub") {
		t.Errorf("postinst does not create the user gridedge-hub:\n%s", d.control["postinst"])
	}
	if _, err := HubPackage("armhf", fakeBinary(t), unit, "1.0.0"); err == nil || !strings.Contains(err.Error(), `arch "armhf"`) {
		t.Errorf("HubPackage(armhf) = %v, want an error naming the arch", err)
	}
}

func TestPackageValidate(t *testing.T) {
	base := func() *Package {
		return &Package{Name: "x", Version: "1", Arch: "amd64",
			Files: []File{{Dest: "/etc/x.yaml", Data: []byte("a"), Mode: 0o644, Conffile: true}}}
	}
	tests := []struct {
		name   string
		change func(p *Package)
		want   string
	}{
		{"valid", func(*Package) {}, ""},
		{"conffile outside /etc", func(p *Package) { p.Files[0].Dest = "/usr/share/x.yaml" }, "a conffile must be under /etc"},
		{"relative", func(p *Package) { p.Files[0].Dest = "etc/x.yaml" }, "want a clean absolute destination"},
		{"twice", func(p *Package) { p.Files = append(p.Files, p.Files[0]) }, "listed twice"},
		{"no mode", func(p *Package) { p.Files[0].Mode = 0 }, "want permission bits only"},
		{"no version", func(p *Package) { p.Version = "" }, "are all required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.change(p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDebVersion(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "v1.4.0", want: "1.4.0"},
		{in: "1.4", want: "1.4"},
		{in: "v1.4.0-rc.1", want: "1.4.0~rc.1"},
		{in: "v1.4.0-3-gabc1234", want: "1.4.0+3.gabc1234"},
		{in: "v1.4.0-3-gabc1234-dirty", want: "1.4.0+3.gabc1234.dirty"},
		{in: "ee60cef", want: "0.0.0+gitee60cef"},
		{in: "ee60cef-dirty", want: "0.0.0+gitee60cef.dirty"},
		{in: "dev", want: "0.0.0+dev"},
		{in: "", wantErr: "version is empty"},
		{in: "-x", wantErr: `version "-x"`},
	}
	for _, tt := range tests {
		got, err := DebVersion(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("DebVersion(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DebVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestReproducible: the same inputs and time stamp give the same bytes.
func TestReproducible(t *testing.T) {
	p, err := LoadProfile(filepath.Join(repoRoot, "firmware-profiles", "generic-armv7.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bin := fakeBinary(t)
	var builds [2][]byte
	for i := range builds {
		pkg, err := AgentPackage(p, bin, "1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := pkg.WriteDeb(&b, testTime); err != nil {
			t.Fatal(err)
		}
		builds[i] = b.Bytes()
	}
	if !bytes.Equal(builds[0], builds[1]) {
		t.Error("two builds of the same package differ")
	}
}
