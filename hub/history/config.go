package history

import (
	"net/url"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// Backends.
const (
	// BackendTSDB is the embedded Prometheus TSDB in <dataDir>/history.
	BackendTSDB = "tsdb"
	// BackendRemote writes with Prometheus remote-write and reads with the
	// Prometheus HTTP query API.
	BackendRemote = "remote"
)

// Defaults.
const (
	// DefaultRetention keeps two years.
	DefaultRetention = 2 * 365 * 24 * time.Hour
	// DefaultOutOfOrderWindow accepts samples up to 7 days older than the
	// newest of their series: it must cover the edge agents' buffer.maxAge,
	// so that an edge replaying its backlog after an outage is accepted.
	DefaultOutOfOrderWindow = 7 * 24 * time.Hour
)

// Config is the hub config's history section.
type Config struct {
	// Backend is "tsdb" (default) or "remote".
	Backend string `json:"backend,omitempty"`
	// Retention drops history older than this (tsdb; default 2 years).
	Retention config.Duration `json:"retention,omitempty"`
	// RetentionSize caps the tsdb's size in bytes (0: no cap); the oldest
	// blocks go first.
	RetentionSize int64 `json:"retentionSize,omitempty"`
	// OutOfOrderWindow is how much older than the newest sample of its
	// series a sample may be and still be accepted (default 7 days). Set it
	// at least to the edges' buffer.maxAge; older samples are refused and
	// counted.
	OutOfOrderWindow config.Duration `json:"outOfOrderWindow,omitempty"`
	// Downsample lists the resolutions the tsdb backend keeps aggregates
	// of (downsample.go); empty: none. The remote backend refuses it:
	// downsampling is the remote engine's job.
	Downsample []DownsampleLevel `json:"downsample,omitempty"`
	// Remote configures the remote backend.
	Remote RemoteConfig `json:"remote,omitempty"`
}

// RemoteConfig names the endpoints of a remote engine.
type RemoteConfig struct {
	// WriteURL is the Prometheus remote-write endpoint, e.g.
	// http://vm:8428/api/v1/write.
	WriteURL string `json:"writeURL,omitempty"`
	// ReadURL is the base of the Prometheus HTTP query API, e.g.
	// http://vm:8428 (…/api/v1/query_range and …/api/v1/series are added).
	ReadURL string `json:"readURL,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Backend == "" {
		c.Backend = BackendTSDB
	}
	if c.Retention == 0 {
		c.Retention = config.Duration(DefaultRetention)
	}
	if c.OutOfOrderWindow == 0 {
		c.OutOfOrderWindow = config.Duration(DefaultOutOfOrderWindow)
	}
	for i := range c.Downsample {
		if c.Downsample[i].Retention == 0 {
			c.Downsample[i].Retention = config.Duration(DefaultDownsampleRetention)
		}
	}
}

// Validate adds every problem to es, with paths under prefix (e.g. "history").
func (c *Config) Validate(prefix string, es *config.Errors) {
	switch c.Backend {
	case BackendTSDB:
		validateDownsample(c, config.Join(prefix, "downsample"), es)
	case BackendRemote:
		if len(c.Downsample) > 0 {
			es.Add(config.Join(prefix, "downsample"), "is for the embedded tsdb only: with the remote backend, downsampling is "+
				"the remote engine's job (VictoriaMetrics: its downsampling option or recording rules; Mimir/Thanos: their compactor); remove the key")
		}
		for _, u := range []struct{ name, v string }{{"writeURL", c.Remote.WriteURL}, {"readURL", c.Remote.ReadURL}} {
			p := config.Join(config.Join(prefix, "remote"), u.name)
			if u.v == "" {
				es.Add(p, "is required for the remote backend")
				continue
			}
			if x, err := url.Parse(u.v); err != nil || (x.Scheme != "http" && x.Scheme != "https") || x.Host == "" {
				es.Add(p, "%q is not an http(s) URL", u.v)
			}
		}
	default:
		es.Add(config.Join(prefix, "backend"), "%q is not tsdb or remote", c.Backend)
	}
	if c.RetentionSize < 0 {
		es.Add(config.Join(prefix, "retentionSize"), "%d is negative", c.RetentionSize)
	}
	if c.Retention.Std() < time.Hour {
		es.Add(config.Join(prefix, "retention"), "%v is shorter than an hour", c.Retention.Std())
	}
	if c.OutOfOrderWindow.Std() > c.Retention.Std() {
		es.Add(config.Join(prefix, "outOfOrderWindow"), "%v is longer than the retention %v", c.OutOfOrderWindow.Std(), c.Retention.Std())
	}
}
