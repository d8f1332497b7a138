package incidents

import (
	"fmt"
	"net/mail"
	"net/url"
	"path"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// Defaults of Config.
const (
	// DefaultLayer and DefaultCollection hold the incidents (seed 3.2.4).
	DefaultLayer      = "incidents"
	DefaultCollection = "items"
	// DefaultMaxAttempts is how many calls a target gets before the
	// incident is dead-lettered for it.
	DefaultMaxAttempts = 5
	// DefaultBackoff is the delay before the first retry; it doubles with
	// every failed attempt up to DefaultMaxBackoff.
	DefaultBackoff    = 2 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultTimeout bounds one HTTP call or e-mail delivery.
	DefaultTimeout = 10 * time.Second
	// DefaultWorkers is how many incidents one hub handles at once.
	DefaultWorkers = 4
)

// Config is the incidents section of the hub's services config.
type Config struct {
	// Enabled starts the service (default false).
	Enabled bool `json:"enabled,omitempty"`
	// Layer is the layer whose config.notify maps incident types to HTTP
	// calls and whose Collection holds the incidents (default "incidents").
	Layer string `json:"layer,omitempty"`
	// Collection holds the incident documents (default "items").
	Collection string `json:"collection,omitempty"`
	// MaxAttempts is how many calls each target gets before the incident is
	// marked dead for it and dead-lettered (default 5).
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// Backoff is the delay before the first retry, doubled after every
	// further failure (default 2s).
	Backoff config.Duration `json:"backoff,omitempty"`
	// MaxBackoff caps the delay between retries (default 5m).
	MaxBackoff config.Duration `json:"maxBackoff,omitempty"`
	// Timeout bounds one HTTP call or one e-mail delivery (default 10s).
	Timeout config.Duration `json:"timeout,omitempty"`
	// Workers is how many incidents one hub handles at once (default 4).
	Workers int `json:"workers,omitempty"`
	// Replicas is the replica count of the work-queue stream (default 1;
	// on a cluster node the hub daemon defaults it to ingest.replicas).
	Replicas int `json:"replicas,omitempty"`
	// Subscriptions send incident notifications by e-mail or webhook, per
	// layer and type.
	Subscriptions []Subscription `json:"subscriptions,omitempty"`
}

// Subscription sends a notification for every incident whose type and
// layer match.
type Subscription struct {
	// ID names the subscription in the audit (target "email:<id>" or
	// "webhook:<id>"); unique.
	ID string `json:"id"`
	// Types are path.Match globs of incident types (empty: every type).
	Types []string `json:"types,omitempty"`
	// Layers are path.Match globs of the layer the incident is about: its
	// details.layer (empty: every layer; an incident without one matches
	// only an empty list).
	Layers []string `json:"layers,omitempty"`
	// Email sends an e-mail through the hub's notify.smtp server.
	Email *EmailTarget `json:"email,omitempty"`
	// Webhook posts the incident as JSON, signed.
	Webhook *WebhookTarget `json:"webhook,omitempty"`
}

// EmailTarget is where an e-mail notification goes.
type EmailTarget struct {
	// To are the recipients (at least one).
	To []string `json:"to"`
	// Subject prefixes the subject line (default "[GridEdge]"); the type
	// and the description follow.
	Subject string `json:"subject,omitempty"`
}

// WebhookTarget is where a webhook notification goes.
type WebhookTarget struct {
	// URL receives a POST of {"event": "incident", "layer", "collection",
	// "id", "incident": <document>}.
	URL string `json:"url"`
	// Secret signs the body: X-GridEdge-Signature is "sha256=" and the hex
	// HMAC-SHA256 of "<X-GridEdge-Timestamp>.<body>" with this key.
	// "$NAME" reads it from the environment variable NAME at each call.
	Secret string `json:"secret"`
	// Headers are added to the request.
	Headers map[string]string `json:"headers,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Layer == "" {
		c.Layer = DefaultLayer
	}
	if c.Collection == "" {
		c.Collection = DefaultCollection
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff == 0 {
		c.Backoff = config.Duration(DefaultBackoff)
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = config.Duration(DefaultMaxBackoff)
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
}

// Validate adds the problems of c to es, under path. The layer and
// collection names are checked by the caller, which knows the reserved
// ones.
func (c *Config) Validate(p string, es *config.Errors) {
	if !c.Enabled {
		return
	}
	if c.MaxAttempts < 1 {
		es.Add(config.Join(p, "maxAttempts"), "%d is below 1", c.MaxAttempts)
	}
	if c.Backoff.Std() <= 0 {
		es.Add(config.Join(p, "backoff"), "must be positive")
	}
	if c.MaxBackoff.Std() < c.Backoff.Std() {
		es.Add(config.Join(p, "maxBackoff"), "(%v) is shorter than backoff (%v)", c.MaxBackoff.Std(), c.Backoff.Std())
	}
	if c.Timeout.Std() <= 0 {
		es.Add(config.Join(p, "timeout"), "must be positive")
	}
	if c.Workers < 1 || c.Workers > 256 {
		es.Add(config.Join(p, "workers"), "%d is not between 1 and 256", c.Workers)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		es.Add(config.Join(p, "replicas"), "%d is not between 1 and 5", c.Replicas)
	}
	seen := map[string]bool{}
	for i, s := range c.Subscriptions {
		sp := config.Index(config.Join(p, "subscriptions"), i)
		s.validate(sp, es)
		if s.ID != "" && seen[s.ID] {
			es.Add(config.Join(sp, "id"), "subscription %q is listed twice", s.ID)
		}
		seen[s.ID] = true
	}
}

func (s *Subscription) validate(p string, es *config.Errors) {
	if s.ID == "" {
		es.Add(config.Join(p, "id"), "is required")
	}
	for field, globs := range map[string][]string{"types": s.Types, "layers": s.Layers} {
		for j, g := range globs {
			if _, err := path.Match(g, ""); err != nil {
				es.Add(config.Index(config.Join(p, field), j), "%q is not a glob: %v", g, err)
			}
		}
	}
	switch {
	case s.Email == nil && s.Webhook == nil:
		es.Add(p, "needs email or webhook")
	case s.Email != nil && s.Webhook != nil:
		es.Add(p, "email and webhook are exclusive (make two subscriptions)")
	}
	if e := s.Email; e != nil {
		if len(e.To) == 0 {
			es.Add(config.Join(p, "email.to"), "needs at least one recipient")
		}
		for j, a := range e.To {
			if _, err := mail.ParseAddress(a); err != nil {
				es.Add(config.Index(config.Join(p, "email.to"), j), "%q is not an e-mail address: %v", a, err)
			}
		}
	}
	if w := s.Webhook; w != nil {
		if err := checkURL(w.URL); err != nil {
			es.Add(config.Join(p, "webhook.url"), "%v", err)
		}
		if w.Secret == "" {
			es.Add(config.Join(p, "webhook.secret"), "is required (receivers check the signature)")
		}
	}
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	return nil
}

// backoff is the delay before the attempt after the n-th failure (n ≥ 1).
func (c *Config) backoff(n int) time.Duration {
	d := c.Backoff.Std()
	for i := 1; i < n && d < c.MaxBackoff.Std(); i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff.Std())
}
