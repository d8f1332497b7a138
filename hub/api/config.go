package api

import (
	"errors"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/shared/config"
)

// Config is the REST API's part of the hub configuration. The hub's config
// embeds it, so its sections sit at the top level of the file: http, auth,
// notify and gateway. Defaults fills unset fields; Validate reports every
// problem at once with the path of each field.
type Config struct {
	// HTTP configures the REST API listener and request limits.
	HTTP HTTPConfig `json:"http,omitempty"`
	// Auth configures authentication and authorisation of the REST API.
	Auth AuthConfig `json:"auth,omitempty"`
	// Notify configures /api/v2/notify/email and /api/v2/notify/twitter.
	Notify notify.Config `json:"notify,omitempty"`
	// Gateway configures /api/v2/gateway.
	Gateway GatewayConfig `json:"gateway,omitempty"`
}

// HTTPConfig configures the REST API listener and request limits.
type HTTPConfig struct {
	// Listen is host:port (default ":8080"; "off" serves no REST API).
	Listen listen.Addr `json:"listen,omitempty"`
	// RateLimit limits requests per credential (default 100/s, burst 200).
	RateLimit RateLimitConfig `json:"rateLimit,omitempty"`
	// DefaultLimit is the page size of queries without limit (default 1000,
	// at most MaxLimit).
	DefaultLimit int `json:"defaultLimit,omitempty"`
	// MaxLimit is the hard maximum page size (default 10000).
	MaxLimit int `json:"maxLimit,omitempty"`
	// MaxBodyBytes bounds JSON request bodies (default 16 MiB; 413 beyond).
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// MaxUploadBytes bounds file uploads (default 256 MiB; 413 beyond).
	MaxUploadBytes int64 `json:"maxUploadBytes,omitempty"`
}

// RateLimitConfig is a token bucket per credential (per user, per app, and
// per client address for requests without credentials).
type RateLimitConfig struct {
	// PerSecond is the sustained request rate per credential (default 100).
	PerSecond float64 `json:"perSecond,omitempty"`
	// Burst is the bucket size (default 2 × PerSecond, at least 1).
	Burst int `json:"burst,omitempty"`
	// Off disables rate limiting.
	Off bool `json:"off,omitempty"`
}

// AuthConfig configures authentication and authorisation of the REST API.
type AuthConfig struct {
	// TokenTTL is how long a login token is valid (default 24h); clients
	// renew it with POST /api/v2/login/renew.
	TokenTTL config.Duration `json:"tokenTTL,omitempty"`
	// Anonymous grants permissions to requests without credentials, per
	// layer: {"demo": "public"}. Default none: every path except health,
	// login and openapi.json needs credentials.
	Anonymous map[string]auth.Perm `json:"anonymous,omitempty"`
	// BcryptCost is the bcrypt work factor of password hashes (default 10).
	BcryptCost int `json:"bcryptCost,omitempty"`
}

// GatewayConfig configures POST /api/v2/gateway.
type GatewayConfig struct {
	// Timeout bounds a NATS request (default 10s).
	Timeout config.Duration `json:"timeout,omitempty"`
}

// Defaults of Config.
const (
	// DefaultListen is the REST API's listen address.
	DefaultListen listen.Addr = ":8080"
	// DefaultLimit is the page size when a query gives no limit.
	DefaultLimit = 1000
	// MaxLimit is the largest page a query may ask for.
	MaxLimit = 10000
	// DefaultMaxBodyBytes bounds JSON request bodies.
	DefaultMaxBodyBytes = 16 << 20
	// DefaultMaxUploadBytes bounds file uploads (POST /resources).
	DefaultMaxUploadBytes = 256 << 20
	// DefaultPerSecond is the sustained request rate per credential.
	DefaultPerSecond = 100
	// DefaultTokenTTL is how long a login token is valid.
	DefaultTokenTTL = 24 * time.Hour
	// DefaultBcryptCost is the bcrypt work factor of password hashes.
	DefaultBcryptCost = 10
	// DefaultGatewayTimeout bounds a /gateway request.
	DefaultGatewayTimeout = 10 * time.Second
)

// Defaults fills unset fields.
func (c *Config) Defaults() {
	c.HTTP.Listen = c.HTTP.Listen.Or(DefaultListen)
	if c.HTTP.RateLimit.PerSecond == 0 && !c.HTTP.RateLimit.Off {
		c.HTTP.RateLimit.PerSecond = DefaultPerSecond
	}
	if c.HTTP.MaxLimit == 0 {
		c.HTTP.MaxLimit = MaxLimit
	}
	if c.HTTP.DefaultLimit == 0 {
		c.HTTP.DefaultLimit = min(DefaultLimit, c.HTTP.MaxLimit)
	}
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HTTP.MaxUploadBytes == 0 {
		c.HTTP.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.Auth.TokenTTL == 0 {
		c.Auth.TokenTTL = config.Duration(DefaultTokenTTL)
	}
	if c.Auth.BcryptCost == 0 {
		c.Auth.BcryptCost = DefaultBcryptCost
	}
	c.Notify.Defaults()
	if c.Gateway.Timeout == 0 {
		c.Gateway.Timeout = config.Duration(DefaultGatewayTimeout)
	}
}

// Validate reports every problem at once; paths start at the top of the
// hub's config file ("http.defaultLimit"). Call it after Defaults.
func (c *Config) Validate() error {
	var es config.Errors
	if err := c.HTTP.Listen.Check(); err != nil {
		es.Add("http.listen", "%v", err)
	}
	if c.HTTP.RateLimit.PerSecond < 0 {
		es.Add("http.rateLimit.perSecond", "%v must not be negative", c.HTTP.RateLimit.PerSecond)
	}
	if c.HTTP.RateLimit.Burst < 0 {
		es.Add("http.rateLimit.burst", "%v must not be negative", c.HTTP.RateLimit.Burst)
	}
	if c.HTTP.DefaultLimit < 1 || c.HTTP.DefaultLimit > c.HTTP.MaxLimit {
		es.Add("http.defaultLimit", "%d must lie in 1..maxLimit (%d)", c.HTTP.DefaultLimit, c.HTTP.MaxLimit)
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		es.Add("http.maxBodyBytes", "%d is below 1024", c.HTTP.MaxBodyBytes)
	}
	if c.HTTP.MaxUploadBytes < 1024 {
		es.Add("http.maxUploadBytes", "%d is below 1024", c.HTTP.MaxUploadBytes)
	}
	if c.Auth.TokenTTL.Std() < time.Minute {
		es.Add("auth.tokenTTL", "%s is shorter than 1m", c.Auth.TokenTTL.Std())
	}
	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31 {
		es.Add("auth.bcryptCost", "%d is not in 4..31", c.Auth.BcryptCost)
	}
	if err := auth.CheckGrants(c.Auth.Anonymous); err != nil {
		es.Add("auth.anonymous", "%v", err)
	}
	for layer, p := range c.Auth.Anonymous {
		if p == auth.Write {
			es.Add(config.Join("auth.anonymous", layer), "anonymous requests may get public or read, not write")
		}
		if layer == auth.SystemLayer {
			es.Add(config.Join("auth.anonymous", layer), "layer %q is for admins only", layer)
		}
	}
	es = appendErrors(es, "notify", c.Notify.Validate())
	if c.Gateway.Timeout.Std() <= 0 {
		es.Add("gateway.timeout", "must be positive")
	}
	return es.Err()
}

// AuthOptions returns the options of the auth service this configuration
// describes.
func (c *AuthConfig) AuthOptions() auth.Options {
	return auth.Options{TokenTTL: c.TokenTTL.Std(), BcryptCost: c.BcryptCost, Anonymous: c.Anonymous}
}

// appendErrors adds the problems of a section's Validate under prefix.
func appendErrors(es config.Errors, prefix string, err error) config.Errors {
	if err == nil {
		return es
	}
	var fes config.Errors
	if !errors.As(err, &fes) {
		es.Add(prefix, "%v", err)
		return es
	}
	for _, e := range fes {
		es = append(es, &config.FieldError{Path: config.Join(prefix, e.Path), Msg: e.Msg})
	}
	return es
}
