package metrics

import (
	"github.com/gridedge/gridedge/shared/config"
)

// Config is the hub config's metrics section.
type Config struct {
	// Enabled serves /metrics on the hub's HTTP port (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// Public serves /metrics without credentials (default false). Set it
	// only when the HTTP port is reachable from a trusted network alone:
	// the metrics name every edge.
	Public bool `json:"public,omitempty"`
	// ScrapeToken is a secret (at least 16 characters) a scraper may send
	// instead of an admin's credentials: as a bearer token
	// ("Authorization: Bearer <token>", Prometheus's
	// authorization.credentials) or as the basic-auth password of
	// ScrapeUser. Empty: only admins' X-User-ID/X-Auth-Token headers.
	ScrapeToken string `json:"scrapeToken,omitempty"`
	// ScrapeUser is the basic-auth user name that goes with ScrapeToken
	// (default "prometheus").
	ScrapeUser string `json:"scrapeUser,omitempty"`
}

// MinScrapeTokenLen is the shortest scrape token accepted.
const MinScrapeTokenLen = 16

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	if c.ScrapeUser == "" {
		c.ScrapeUser = "prometheus"
	}
}

// On reports whether /metrics is served.
func (c *Config) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate adds the section's problems to es, with paths under prefix.
func (c *Config) Validate(prefix string, es *config.Errors) {
	if c.ScrapeToken != "" && len(c.ScrapeToken) < MinScrapeTokenLen {
		es.Add(config.Join(prefix, "scrapeToken"), "must be at least %d characters (it is %d)", MinScrapeTokenLen, len(c.ScrapeToken))
	}
	if c.Public && c.ScrapeToken != "" {
		es.Add(config.Join(prefix, "public"), "is set together with scrapeToken: a public /metrics needs no token (remove one of them)")
	}
}
