package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/shared/config"
)

// Profile is a gateway hardware's firmware profile, one file of
// firmware-profiles/: the Go target, the serial ports the board exposes, the
// agent's paths, buffer bounds that suit its storage, and service settings.
type Profile struct {
	// Name identifies the profile (the file name without .yaml).
	Name string `json:"name"`
	// Description says what hardware the profile is for.
	Description string `json:"description,omitempty"`
	// GOOS is the target OS; only linux is packaged.
	GOOS string `json:"goos"`
	// GOARCH is the Go architecture: amd64, arm64 or arm.
	GOARCH string `json:"goarch"`
	// GOARM is the ARM version for GOARCH arm: 5, 6 or 7.
	GOARM int `json:"goarm,omitempty"`
	// Binary is the name make build-arm gives the agent for this target.
	Binary string `json:"binary"`
	// SerialPorts are the board's RS-485 ports, first the one to use by default.
	SerialPorts []string `json:"serialPorts,omitempty"`
	// Paths say where the agent's files go on the gateway.
	Paths Paths `json:"paths"`
	// Buffer bounds the store-and-forward queue for the board's storage.
	Buffer Buffer `json:"buffer,omitempty"`
	// Service sets up the systemd service.
	Service Service `json:"service"`
	// Config holds further agent config fields (docs/configuration.md) the
	// profile's default config sets, e.g. logLevel or heartbeat.
	Config map[string]any `json:"config,omitempty"`

	dir string // the profile file's directory: Service.Unit is relative to it
}

// Paths are where the agent's files are installed.
type Paths struct {
	// Binary is the agent executable.
	Binary string `json:"binary"`
	// Config is the agent config file (a conffile of the package).
	Config string `json:"config"`
	// DataDir holds the buffer; the only directory the service may write.
	DataDir string `json:"dataDir"`
}

// Buffer holds the buffer bounds of the default agent config.
type Buffer struct {
	// MaxBytes bounds the buffered updates' encoded size (buffer.maxBytes).
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// MaxAge drops unsent updates older than this (buffer.maxAge), e.g. "168h".
	MaxAge config.Duration `json:"maxAge,omitempty"`
}

// Service sets up the systemd unit.
type Service struct {
	// Unit is the systemd unit file, relative to the profile file.
	Unit string `json:"unit"`
	// User is the system user the agent runs as.
	User string `json:"user"`
	// MemoryMax is systemd's MemoryMax= for the service (e.g. 256M).
	MemoryMax string `json:"memoryMax,omitempty"`
}

// LoadProfile reads a firmware profile strictly (unknown fields are errors)
// and validates it.
func LoadProfile(path string) (*Profile, error) {
	var p Profile
	if err := config.ReadFile(path, &p); err != nil {
		return nil, fmt.Errorf("firmware profile: %w", err)
	}
	p.dir = filepath.Dir(path)
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("firmware profile %s: %w", path, err)
	}
	return &p, nil
}

// LoadProfiles reads every *.yaml profile in dir, sorted by file name.
func LoadProfiles(dir string) ([]*Profile, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list firmware profiles in %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no firmware profiles (*.yaml) in %s", dir)
	}
	slices.Sort(names)
	var out []*Profile
	for _, n := range names {
		p, err := LoadProfile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

var (
	nameRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)
	pathRE      = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)
	userRE      = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	memoryMaxRE = regexp.MustCompile(`^([0-9]+[KMGT]?|[0-9]+%|infinity)$`)
)

// Validate reports every problem of the profile at once, each naming its
// field.
func (p *Profile) Validate() error {
	var es config.Errors
	if !nameRE.MatchString(p.Name) {
		es.Add("name", "%q: want lower-case letters, digits, '.', '+' or '-'", p.Name)
	}
	if p.GOOS != "linux" {
		es.Add("goos", "%q: only linux gateways are packaged", p.GOOS)
	}
	switch p.GOARCH {
	case "amd64", "arm64":
		if p.GOARM != 0 {
			es.Add("goarm", "is only for goarch arm, not %s", p.GOARCH)
		}
	case "arm":
		if p.GOARM < 5 || p.GOARM > 7 {
			es.Add("goarm", "%d: want 5, 6 or 7 for goarch arm", p.GOARM)
		}
	default:
		es.Add("goarch", "%q: want amd64, arm64 or arm", p.GOARCH)
	}
	if p.Binary == "" || strings.ContainsRune(p.Binary, '/') {
		es.Add("binary", "%q: want the file name make build-arm writes in bin/", p.Binary)
	}
	for i, s := range p.SerialPorts {
		if !strings.HasPrefix(s, "/dev/") {
			es.Add(config.Index("serialPorts", i), "%q: want a device path under /dev/", s)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"paths.binary", p.Paths.Binary}, {"paths.config", p.Paths.Config}, {"paths.dataDir", p.Paths.DataDir},
	} {
		switch {
		case f.v == "":
			es.Add(f.name, "is required")
		case !filepath.IsAbs(f.v) || filepath.Clean(f.v) != f.v || !pathRE.MatchString(f.v):
			es.Add(f.name, "%q: want a clean absolute path of letters, digits and . _ + - /", f.v)
		case strings.HasPrefix(f.v, "/usr/local/"):
			es.Add(f.name, "%q: a package must not install under /usr/local (Debian policy 9.1.2); use /usr/bin", f.v)
		}
	}
	if p.Paths.DataDir != "" && !strings.HasPrefix(p.Paths.DataDir, "/var/lib/") {
		es.Add("paths.dataDir", "%q: want a directory under /var/lib (the unit's StateDirectory)", p.Paths.DataDir)
	}
	if p.Buffer.MaxBytes < 0 {
		es.Add("buffer.maxBytes", "%d: must not be negative", p.Buffer.MaxBytes)
	}
	if p.Buffer.MaxAge < 0 {
		es.Add("buffer.maxAge", "must not be negative")
	}
	if !userRE.MatchString(p.Service.User) {
		es.Add("service.user", "%q: want a system user name (lower-case, at most 32 characters)", p.Service.User)
	}
	if p.Service.MemoryMax != "" && !memoryMaxRE.MatchString(p.Service.MemoryMax) {
		es.Add("service.memoryMax", "%q: want bytes with an optional K, M, G or T suffix, a percentage or infinity", p.Service.MemoryMax)
	}
	if p.Service.Unit == "" {
		es.Add("service.unit", "is required")
	} else if _, err := os.Stat(p.UnitPath()); err != nil {
		es.Add("service.unit", "%q: %v", p.Service.Unit, err)
	}
	for _, k := range []string{"edge", "dataDir", "settings", "settingsFile", "buffer"} {
		if _, ok := p.Config[k]; ok {
			es.Add("config."+k, "is set by the package (paths, buffer, /etc settings file); remove it here")
		}
	}
	return es.Err()
}

// UnitPath is the systemd unit file's path.
func (p *Profile) UnitPath() string {
	if filepath.IsAbs(p.Service.Unit) {
		return p.Service.Unit
	}
	return filepath.Join(p.dir, p.Service.Unit)
}

// DebArch is the Debian architecture of the profile's target: amd64, arm64,
// armhf (ARMv6 and v7, hard float) or armel (ARMv5).
func (p *Profile) DebArch() string {
	return debArch(p.GOARCH, p.GOARM)
}

func debArch(goarch string, goarm int) string {
	if goarch != "arm" {
		return goarch
	}
	if goarm >= 6 {
		return "armhf"
	}
	return "armel"
}
