package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vendorManifest is ui/vendor/manifest.json, written by web/vendor.mjs.
type vendorManifest struct {
	Packages map[string]struct {
		Version   string `json:"version"`
		Integrity string `json:"integrity"`
		Files     map[string]struct {
			From   string `json:"from"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
	} `json:"packages"`
}

// TestVendoredAssetsMatchLockfile: every file under ui/vendor/ was copied
// by `make ui` from the package version and tarball (integrity) that
// web/package-lock.json pins, and has not been edited since: the manifest's
// versions and integrities are the lockfile's, web/package.json pins the
// same exact versions, each file's SHA-256 is the manifest's, no file is
// unlisted, and, when web/node_modules is installed (npm ci checked the
// tarballs against the integrities), each file equals its source there.
func TestVendoredAssetsMatchLockfile(t *testing.T) {
	web := filepath.Join("..", "..", "web")
	var lock struct {
		Packages map[string]struct {
			Version      string            `json:"version"`
			Integrity    string            `json:"integrity"`
			Dependencies map[string]string `json:"dependencies"`
		} `json:"packages"`
	}
	readJSON(t, filepath.Join(web, "package-lock.json"), &lock)
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(web, "package.json"), &pkg)
	raw, err := uiFS.ReadFile("ui/vendor/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var man vendorManifest
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatalf("ui/vendor/manifest.json: %v", err)
	}
	if len(man.Packages) == 0 {
		t.Fatal("ui/vendor/manifest.json lists no package")
	}
	listed := map[string]bool{"manifest.json": true}
	for name, p := range man.Packages {
		l, ok := lock.Packages["node_modules/"+name]
		if !ok {
			t.Errorf("%s is vendored but not in web/package-lock.json", name)
			continue
		}
		if l.Version != p.Version || l.Integrity != p.Integrity {
			t.Errorf("%s: vendored %s (%s), the lockfile pins %s (%s): run make ui", name, p.Version, p.Integrity, l.Version, l.Integrity)
		}
		if pkg.Dependencies[name] != p.Version {
			t.Errorf("%s: web/package.json asks for %q, vendored %s: pin the exact version", name, pkg.Dependencies[name], p.Version)
		}
		for file, f := range p.Files {
			listed[file] = true
			b, err := uiFS.ReadFile("ui/vendor/" + file)
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
				t.Errorf("ui/vendor/%s has SHA-256 %s, the manifest %s: edited by hand? run make ui", file, got, f.SHA256)
			}
			src, err := os.ReadFile(filepath.Join(web, "node_modules", name, filepath.FromSlash(f.From)))
			if err == nil && !bytes.Equal(src, b) {
				t.Errorf("ui/vendor/%s differs from web/node_modules/%s/%s: run make ui", file, name, f.From)
			}
		}
	}
	_ = fs.WalkDir(uiFS, "ui/vendor", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !listed[strings.TrimPrefix(p, "ui/vendor/")] {
			t.Errorf("%s is not in ui/vendor/manifest.json: vendor files come from make ui only", p)
		}
		return nil
	})
	for name := range pkg.Dependencies {
		if _, ok := man.Packages[name]; !ok {
			t.Errorf("web/package.json depends on %s, which make ui did not vendor", name)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
