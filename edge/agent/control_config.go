package agent

import (
	"time"

	"github.com/nats-io/nkeys"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/control"
)

// ControlConfig configures the edge's control subjects
// (<domain>.edge.<edge>.map.push and the others, see package control).
type ControlConfig struct {
	// TrustedKeys are the public nkeys (user "U…", account "A…" or
	// operator "O…") whose signatures map.push and map.rollback accept.
	// Without any, every push and rollback is refused.
	TrustedKeys []string `json:"trustedKeys,omitempty"`
	// MaxSignatureAge is how old a signed request may be (default 15m).
	MaxSignatureAge config.Duration `json:"maxSignatureAge,omitempty"`
	// ConfirmCycles is how many first cycles of a new map are watched on the
	// slaves it changed (default 3): when a slave that answered under the
	// previous map fails all of them, the previous map is restored.
	ConfirmCycles int `json:"confirmCycles,omitempty"`
	// ConfirmTimeout is how long a push with "confirm" waits for that
	// verdict before it replies "applied" (default 30s).
	ConfirmTimeout config.Duration `json:"confirmTimeout,omitempty"`
}

func (c *ControlConfig) defaults() {
	if c.MaxSignatureAge == 0 {
		c.MaxSignatureAge = config.Duration(control.DefaultMaxAge)
	}
	if c.ConfirmCycles == 0 {
		c.ConfirmCycles = 3
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = config.Duration(30 * time.Second)
	}
}

func (c *ControlConfig) validate(es *config.Errors) {
	for i, k := range c.TrustedKeys {
		if _, err := nkeys.FromPublicKey(k); err != nil {
			es.Add(config.Index("control.trustedKeys", i), "%q is not a public nkey (want U…, A… or O…): %v", k, err)
			continue
		}
		if nkeys.IsValidPublicUserKey(k) || nkeys.IsValidPublicAccountKey(k) || nkeys.IsValidPublicOperatorKey(k) {
			continue
		}
		es.Add(config.Index("control.trustedKeys", i), "%q is not a user, account or operator key", k)
	}
	if c.ConfirmCycles < 1 || c.ConfirmCycles > 100 {
		es.Add("control.confirmCycles", "%d is out of range 1..100", c.ConfirmCycles)
	}
	if c.MaxSignatureAge.Std() < time.Minute {
		es.Add("control.maxSignatureAge", "%s is shorter than 1m", c.MaxSignatureAge.Std())
	}
	if d := c.ConfirmTimeout.Std(); d < time.Second || d > 10*time.Minute {
		es.Add("control.confirmTimeout", "%s is out of range 1s..10m", d)
	}
}
