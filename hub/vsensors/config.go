package vsensors

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
)

// Config is the vsensors section of the hub's services config.
type Config struct {
	// Enabled starts the service (default false).
	Enabled bool `json:"enabled,omitempty"`
	// Settings is the seed's virtual-sensor settings document (3.2.5.1),
	// unchanged; exclusive with SettingsFile.
	Settings *vsensor.Settings `json:"settings,omitempty"`
	// SettingsFile is a JSON or YAML file holding that document.
	SettingsFile string `json:"settingsFile,omitempty"`
	// Tick is how often poll-mode sensors and the lease are looked at
	// (default 1s).
	Tick config.Duration `json:"tick,omitempty"`
	// Lease is how long the poll lease lasts without renewal, so how soon
	// another hub takes over poll-mode sensors after this one stops
	// (default 5s; more than Tick).
	Lease config.Duration `json:"lease,omitempty"`
	// Converters pass a sensor's output through a data-model converter
	// (hub/convert, by the transformation's _id) before it is written:
	// {"<layer>_<collection>.<id>": "<converter id>"}. An extension kept
	// beside the seed's settings, which stay unchanged; needs
	// services.converters.
	Converters map[string]string `json:"converters,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Tick == 0 {
		c.Tick = config.Duration(time.Second)
	}
	if c.Lease == 0 {
		c.Lease = config.Duration(5 * time.Second)
	}
}

// Validate adds the problems of c to es, under path; it reads
// SettingsFile and checks the settings, loops included.
func (c *Config) Validate(path string, es *config.Errors) {
	if !c.Enabled {
		return
	}
	if c.Tick.Std() <= 0 {
		es.Add(config.Join(path, "tick"), "must be positive")
	}
	if c.Lease.Std() <= c.Tick.Std() {
		es.Add(config.Join(path, "lease"), "(%v) must be longer than tick (%v)", c.Lease.Std(), c.Tick.Std())
	}
	s, err := c.Load()
	if err != nil {
		var ces config.Errors
		if errors.As(err, &ces) {
			for _, e := range ces {
				es.Add(config.Join(config.Join(path, "settings"), e.Path), "%s", e.Msg)
			}
			return
		}
		es.Add(config.Join(path, "settings"), "%v", err)
		return
	}
	g, err := analyse(s)
	if err != nil {
		es.Add(config.Join(path, "settings"), "%v", err)
		return
	}
	validateConverters(c.Converters, g, path, es)
}

// Load returns the settings, from Settings or SettingsFile, validated.
func (c *Config) Load() (*vsensor.Settings, error) {
	s := c.Settings
	switch {
	case s != nil && c.SettingsFile != "":
		return nil, fmt.Errorf("settings and settingsFile are exclusive")
	case c.SettingsFile != "":
		s = &vsensor.Settings{}
		if err := config.ReadFile(c.SettingsFile, s); err != nil {
			return nil, fmt.Errorf("read %s: %w", c.SettingsFile, err)
		}
	case s == nil:
		return nil, fmt.Errorf("settings or settingsFile is required")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}
