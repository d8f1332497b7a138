package forecast

import (
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// Config is the forecast section of the hub configuration.
type Config struct {
	// Enabled switches the service on (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// Workers is the number of models trained at once (default 2).
	Workers int `json:"workers,omitempty"`
	// Queue is the number of trainings waiting for a worker (default 32);
	// beyond it train requests are refused.
	Queue int `json:"queue,omitempty"`
	// MaxRows caps the rows an input stage may return (default 1000000).
	MaxRows int `json:"maxRows,omitempty"`
	// TrainTimeout bounds one training (default 30m). A hub's claim on a
	// training is taken over by another hub's train request once it is
	// older than TrainTimeout plus a minute: its hub died or lost the
	// store while training.
	TrainTimeout config.Duration `json:"trainTimeout,omitempty"`
}

// DefaultTrainTimeout is Config.TrainTimeout's default.
const DefaultTrainTimeout = 30 * time.Minute

// staleAfter is the age of a training claim that another hub may take
// over: the holder gave up at TrainTimeout, the minute covers the time
// it needs to record the outcome and the clocks' skew.
func (c *Config) staleAfter() time.Duration { return time.Duration(c.TrainTimeout) + time.Minute }

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Enabled == nil {
		on := true
		c.Enabled = &on
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Queue == 0 {
		c.Queue = 32
	}
	if c.MaxRows == 0 {
		c.MaxRows = 1_000_000
	}
	if c.TrainTimeout == 0 {
		c.TrainTimeout = config.Duration(DefaultTrainTimeout)
	}
}

// On reports whether the service is enabled.
func (c *Config) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate adds every problem to es, field paths under prefix.
func (c *Config) Validate(prefix string, es *config.Errors) {
	for _, f := range []struct {
		name string
		v    int
	}{{"workers", c.Workers}, {"queue", c.Queue}, {"maxRows", c.MaxRows}} {
		if f.v < 0 {
			es.Add(config.Join(prefix, f.name), "(%d) must be ≥ 1", f.v)
		}
	}
	if c.TrainTimeout < 0 {
		es.Add(config.Join(prefix, "trainTimeout"), "(%s) must be positive", time.Duration(c.TrainTimeout))
	}
}
