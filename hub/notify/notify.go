// Package notify sends the hub's notifications: e-mail through an SMTP
// server (smtp.go) and tweets signed with OAuth 1.0a (twitter.go,
// oauth1.go). It owns the "notify" section of the hub configuration; the
// REST handlers of /api/v2/notify/email and /api/v2/notify/twitter live in
// hub/api and call into this package.
package notify

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/mail"
	"os"
	"strings"

	"github.com/gridedge/gridedge/shared/config"
)

// DefaultTwitterEndpoint is where tweets are posted unless the
// configuration says otherwise (X API v2).
const DefaultTwitterEndpoint = "https://api.twitter.com/2/tweets"

// ErrNoSMTP is returned by SMTPConfig.Send when no SMTP host is configured.
var ErrNoSMTP = errors.New("no SMTP server configured (notify.smtp.host)")

// Config is the "notify" section of the hub configuration.
type Config struct {
	// SMTP is the mail server of /notify/email.
	SMTP SMTPConfig `json:"smtp,omitempty"`
	// TwitterEndpoint is where /notify/twitter posts tweets (default
	// https://api.twitter.com/2/tweets).
	TwitterEndpoint string `json:"twitterEndpoint,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.TwitterEndpoint == "" {
		c.TwitterEndpoint = DefaultTwitterEndpoint
	}
	if c.SMTP.MaxRecipients == 0 {
		c.SMTP.MaxRecipients = DefaultMaxRecipients
	}
	if c.SMTP.PerHour == 0 {
		c.SMTP.PerHour = DefaultPerHour
	}
}

// Defaults of the e-mail caps.
const (
	// DefaultMaxRecipients caps the recipients of one message.
	DefaultMaxRecipients = 10
	// DefaultPerHour caps the messages per user or app and hour.
	DefaultPerHour = 30
)

// Validate reports every problem at once, with paths relative to the
// notify section (e.g. "smtp.tls"). Call it after Defaults.
func (c *Config) Validate() error {
	var es config.Errors
	switch c.SMTP.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		es.Add("smtp.tls", "%q is not one of %s, %s, %s", c.SMTP.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if c.SMTP.Port < 0 || c.SMTP.Port > 65535 {
		es.Add("smtp.port", "%d is not a port", c.SMTP.Port)
	}
	if c.SMTP.MaxRecipients < 1 {
		es.Add("smtp.maxRecipients", "%d is below 1", c.SMTP.MaxRecipients)
	}
	if c.SMTP.PerHour < 1 {
		es.Add("smtp.perHour", "%d is below 1", c.SMTP.PerHour)
	}
	for i, a := range c.SMTP.AllowFrom {
		if d, ok := strings.CutPrefix(a, "@"); ok {
			if d == "" || strings.ContainsAny(d, "@ <>") {
				es.Add(config.Index("smtp.allowFrom", i), "%q is not a domain such as @example.org", a)
			}
		} else if p, err := mail.ParseAddress(a); err != nil || p.Address != a {
			es.Add(config.Index("smtp.allowFrom", i), "%q is not a bare address or @domain", a)
		}
	}
	if c.SMTP.Username != "" && c.SMTP.Host == "" {
		es.Add("smtp.host", "is required when username is set")
	}
	if !strings.HasPrefix(c.TwitterEndpoint, "http://") && !strings.HasPrefix(c.TwitterEndpoint, "https://") {
		es.Add("twitterEndpoint", "%q is not an http(s) URL", c.TwitterEndpoint)
	}
	return es.Err()
}

// secret returns s, or the environment variable it names as "$NAME".
func secret(s string) string {
	if name, ok := strings.CutPrefix(s, "$"); ok && name != "" {
		return os.Getenv(name)
	}
	return s
}

// randomToken returns 24 random hex digits, for MIME boundaries,
// Message-IDs and OAuth nonces.
func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	return hex.EncodeToString(b)
}
