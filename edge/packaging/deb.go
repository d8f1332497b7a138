// Package packaging builds the Debian packages of the GridEdge agent and hub
// (with github.com/goreleaser/nfpm/v2, no dpkg tools needed) and the
// first-boot config bundles of the gateways' firmware profiles. It is run by
// cmd/gridedge-pkg from make packages and make firmware; the agent binary
// never links it.
package packaging

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

// Maintainer and Homepage go into every package's control file.
const (
	Maintainer = "GridEdge maintainers <gridedge@users.noreply.github.com>"
	Homepage   = "https://github.com/gridedge/gridedge"
)

// Package is one Debian package: its control fields, files, directories and
// maintainer scripts.
type Package struct {
	// Name is the package name, e.g. gridedge-agent.
	Name string
	// Version is the Debian version (see DebVersion).
	Version string
	// Arch is the Debian architecture: amd64, arm64, armhf, armel.
	Arch string
	// Description is the control file's description: a summary line, then
	// the long description.
	Description string
	// Depends lists the packages this one needs.
	Depends []string
	// Files are installed as listed.
	Files []File
	// Dirs are created (and removed when empty) by the package.
	Dirs []Dir
	// Scripts are the maintainer scripts.
	Scripts Scripts
}

// File is one file of a package: from Source on disk, or with Data.
type File struct {
	// Dest is the absolute path on the target.
	Dest string
	// Source is a file to copy; empty means Data.
	Source string
	// Data is the file's content when Source is empty.
	Data []byte
	// Mode is the file's permission bits.
	Mode fs.FileMode
	// Conffile marks a configuration file: listed in conffiles, an
	// administrator's changes survive upgrades, removed only on purge.
	Conffile bool
}

// Dir is a directory the package owns.
type Dir struct {
	// Dest is the absolute path on the target.
	Dest string
	// Mode is the directory's permission bits.
	Mode fs.FileMode
}

// Scripts are the package's maintainer scripts (shell text); empty ones are
// left out.
type Scripts struct {
	PreInst, PostInst, PreRm, PostRm string
}

// FileName is the package's conventional file name:
// name_version_arch.deb.
func (p *Package) FileName() string {
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, p.Version, p.Arch)
}

// Conffiles are the Dest of the package's configuration files, sorted.
func (p *Package) Conffiles() []string {
	var out []string
	for _, f := range p.Files {
		if f.Conffile {
			out = append(out, f.Dest)
		}
	}
	slices.Sort(out)
	return out
}

// Validate checks what nfpm would accept silently but dpkg would not, or
// what would make a broken package.
func (p *Package) Validate() error {
	var problems []string
	if p.Name == "" || p.Version == "" || p.Arch == "" {
		problems = append(problems, fmt.Sprintf("name %q, version %q and arch %q are all required", p.Name, p.Version, p.Arch))
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if !path.IsAbs(f.Dest) || path.Clean(f.Dest) != f.Dest {
			problems = append(problems, fmt.Sprintf("file %q: want a clean absolute destination", f.Dest))
		}
		if seen[f.Dest] {
			problems = append(problems, fmt.Sprintf("file %q: listed twice", f.Dest))
		}
		seen[f.Dest] = true
		if f.Mode&^fs.ModePerm != 0 || f.Mode == 0 {
			problems = append(problems, fmt.Sprintf("file %q: mode %v: want permission bits only", f.Dest, f.Mode))
		}
		if f.Conffile && !strings.HasPrefix(f.Dest, "/etc/") {
			problems = append(problems, fmt.Sprintf("file %q: a conffile must be under /etc", f.Dest))
		}
	}
	for _, d := range p.Dirs {
		if !path.IsAbs(d.Dest) || path.Clean(d.Dest) != d.Dest {
			problems = append(problems, fmt.Sprintf("dir %q: want a clean absolute path", d.Dest))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("package %s: %s", p.Name, strings.Join(problems, "; "))
	}
	return nil
}

// WriteDeb builds the package and writes the .deb to w. mtime is the time
// stamp of every file (a fixed one makes reproducible packages).
func (p *Package) WriteDeb(w io.Writer, mtime time.Time) error {
	if err := p.Validate(); err != nil {
		return err
	}
	// nfpm reads contents and scripts from files: stage what is generated
	stage, err := os.MkdirTemp("", "gridedge-pkg-")
	if err != nil {
		return fmt.Errorf("package %s: stage files: %w", p.Name, err)
	}
	defer os.RemoveAll(stage)
	n := 0
	staged := func(data []byte) (string, error) {
		n++
		name := filepath.Join(stage, fmt.Sprintf("f%03d", n))
		return name, os.WriteFile(name, data, 0o600)
	}

	var contents files.Contents
	for _, d := range p.Dirs {
		contents = append(contents, &files.Content{Destination: d.Dest, Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Mode: d.Mode | fs.ModeDir, Owner: "root", Group: "root", MTime: mtime}})
	}
	for _, f := range p.Files {
		src := f.Source
		if src == "" {
			if src, err = staged(f.Data); err != nil {
				return fmt.Errorf("package %s: stage %s: %w", p.Name, f.Dest, err)
			}
		} else if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("package %s: file for %s: %w", p.Name, f.Dest, err)
		}
		typ := files.TypeFile
		if f.Conffile {
			typ = files.TypeConfigNoReplace
		}
		contents = append(contents, &files.Content{Source: src, Destination: f.Dest, Type: typ,
			FileInfo: &files.ContentFileInfo{Mode: f.Mode, Owner: "root", Group: "root", MTime: mtime}})
	}
	var scripts nfpm.Scripts
	for _, s := range []struct {
		text string
		dst  *string
	}{{p.Scripts.PreInst, &scripts.PreInstall}, {p.Scripts.PostInst, &scripts.PostInstall},
		{p.Scripts.PreRm, &scripts.PreRemove}, {p.Scripts.PostRm, &scripts.PostRemove}} {
		if s.text == "" {
			continue
		}
		if *s.dst, err = staged([]byte(s.text)); err != nil {
			return fmt.Errorf("package %s: stage scripts: %w", p.Name, err)
		}
	}

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          p.Name,
		Arch:          p.Arch,
		Platform:      "linux",
		Version:       p.Version,
		VersionSchema: "none", // DebVersion made it a Debian version already
		Section:       "net",
		Priority:      "optional",
		Maintainer:    Maintainer,
		Description:   p.Description,
		Homepage:      Homepage,
		License:       "Apache-2.0",
		MTime:         mtime,
		Overridables: nfpm.Overridables{
			Depends:  p.Depends,
			Contents: contents,
			Umask:    0o022,
			Scripts:  scripts,
			Deb:      nfpm.Deb{Compression: "gzip"},
		},
	})
	if err := nfpm.Validate(info); err != nil {
		return fmt.Errorf("package %s: %w", p.Name, err)
	}
	pkger, err := nfpm.Get("deb")
	if err != nil {
		return fmt.Errorf("package %s: %w", p.Name, err)
	}
	if err := pkger.Package(info, w); err != nil {
		return fmt.Errorf("package %s for %s: %w", p.Name, p.Arch, err)
	}
	return nil
}

// WriteDebFile builds the package into dir as FileName and returns its path.
func (p *Package) WriteDebFile(dir string, mtime time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("package %s: %w", p.Name, err)
	}
	name := filepath.Join(dir, p.FileName())
	f, err := os.Create(name)
	if err != nil {
		return "", fmt.Errorf("package %s: %w", p.Name, err)
	}
	if err := p.WriteDeb(f, mtime); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("package %s: write %s: %w", p.Name, name, err)
	}
	return name, nil
}
