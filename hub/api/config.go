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
	// Fleet configures map push and rollback through /api/v2/fleet.
	Fleet FleetConfig `json:"fleet,omitempty"`
}

// HTTPConfig configures the REST API listener and request limits.
type HTTPConfig struct {
	// Listen is host:port (default "127.0.0.1:8080"; ":8080" listens on
	// every interface; "off" serves no REST API).
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
	// ReadTimeout bounds reading a whole request, body included (default
	// 30s); file uploads get FileTimeout instead.
	ReadTimeout config.Duration `json:"readTimeout,omitempty"`
	// WriteTimeout bounds writing a response (default 60s); file downloads
	// get FileTimeout instead.
	WriteTimeout config.Duration `json:"writeTimeout,omitempty"`
	// IdleTimeout closes keep-alive connections idle that long (default 120s).
	IdleTimeout config.Duration `json:"idleTimeout,omitempty"`
	// FileTimeout bounds one upload or download of /resources (default 10m).
	FileTimeout config.Duration `json:"fileTimeout,omitempty"`
	// MaxConns caps the open connections; more wait to be accepted
	// (default 1024).
	MaxConns int `json:"maxConns,omitempty"`
	// TLS serves HTTPS with this certificate and key (default none:
	// plaintext, with a warning when the address is not loopback).
	// Replaced files are picked up at the next handshake.
	TLS *TLSConfig `json:"tls,omitempty"`
	// RequireTLS refuses to start the REST API without TLS.
	RequireTLS bool `json:"requireTLS,omitempty"`
	// TrustedProxies are the addresses or CIDR prefixes of reverse proxies
	// whose X-Forwarded-For header names the client (default none: the
	// header is ignored and the peer's address is the client's).
	TrustedProxies []string `json:"trustedProxies,omitempty"`
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
	// LoginThrottle locks out accounts and clients that fail password
	// checks too often (login, and a user changing its own password).
	LoginThrottle LoginThrottleConfig `json:"loginThrottle,omitempty"`
	// CredentialCache keeps verified tokens and app keys in memory so
	// that a request costs no store read for them.
	CredentialCache CredentialCacheConfig `json:"credentialCache,omitempty"`
}

// CredentialCacheConfig configures the cache of verified credentials.
// Logout, renewal, password, role and grant changes and deletions made
// through this hub take effect at once; made by another hub sharing the
// MongoDB store, they take effect within TTL.
type CredentialCacheConfig struct {
	// TTL is how long a verified credential is trusted before the store is
	// read again (default 5s, at most 1m); never past the token's expiry.
	TTL config.Duration `json:"ttl,omitempty"`
	// Off disables the cache: every request reads its token (or app) and
	// user from the store.
	Off bool `json:"off,omitempty"`
}

// LoginThrottleConfig counts failed password checks per account and per
// client address; from the limit on, further attempts are refused with 429
// and Retry-After before any bcrypt comparison, for Lockout, doubling with
// every further failure up to MaxLockout. Counts are forgotten after
// MaxLockout without failure; a successful login clears the account's.
type LoginThrottleConfig struct {
	// PerAccount is the failures per account before a lock-out (default
	// 10); a user's name and e-mail address are one account.
	PerAccount int `json:"perAccount,omitempty"`
	// PerClient is the failures per client address before a lock-out
	// (default 30).
	PerClient int `json:"perClient,omitempty"`
	// Lockout is the first lock-out (default 1m).
	Lockout config.Duration `json:"lockout,omitempty"`
	// MaxLockout caps the lock-out (default 15m).
	MaxLockout config.Duration `json:"maxLockout,omitempty"`
	// Off disables the throttle.
	Off bool `json:"off,omitempty"`
}

// GatewayConfig configures POST /api/v2/gateway.
type GatewayConfig struct {
	// Timeout bounds a NATS request (default 10s).
	Timeout config.Duration `json:"timeout,omitempty"`
}

// Defaults of Config.
const (
	// DefaultListen is the REST API's listen address: loopback only, so a
	// hub started without a config exposes no plaintext API to the network.
	DefaultListen listen.Addr = "127.0.0.1:8080"
	// DefaultLimit is the page size when a query gives no limit.
	DefaultLimit = 1000
	// MaxLimit is the largest page a query may ask for.
	MaxLimit = 10000
	// DefaultMaxBodyBytes bounds JSON request bodies.
	DefaultMaxBodyBytes = 16 << 20
	// DefaultMaxUploadBytes bounds file uploads (POST /resources).
	DefaultMaxUploadBytes = 256 << 20
	// DefaultMaxConns caps the REST API's open connections.
	DefaultMaxConns = 1024
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
	for _, d := range []struct {
		f   *config.Duration
		def time.Duration
	}{{&c.HTTP.ReadTimeout, 30 * time.Second}, {&c.HTTP.WriteTimeout, 60 * time.Second},
		{&c.HTTP.IdleTimeout, 120 * time.Second}, {&c.HTTP.FileTimeout, 10 * time.Minute}} {
		if *d.f == 0 {
			*d.f = config.Duration(d.def)
		}
	}
	if c.HTTP.MaxConns == 0 {
		c.HTTP.MaxConns = DefaultMaxConns
	}
	if c.Auth.TokenTTL == 0 {
		c.Auth.TokenTTL = config.Duration(DefaultTokenTTL)
	}
	if c.Auth.BcryptCost == 0 {
		c.Auth.BcryptCost = DefaultBcryptCost
	}
	if c.Auth.CredentialCache.TTL == 0 {
		c.Auth.CredentialCache.TTL = config.Duration(auth.DefaultCacheTTL)
	}
	lt := &c.Auth.LoginThrottle
	if lt.PerAccount == 0 {
		lt.PerAccount = 10
	}
	if lt.PerClient == 0 {
		lt.PerClient = 30
	}
	if lt.Lockout == 0 {
		lt.Lockout = config.Duration(time.Minute)
	}
	if lt.MaxLockout == 0 {
		lt.MaxLockout = config.Duration(15 * time.Minute)
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
	if c.Auth.CredentialCache.TTL.Std() > time.Minute {
		es.Add("auth.credentialCache.ttl", "%s is longer than 1m", c.Auth.CredentialCache.TTL.Std())
	}
	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31 {
		es.Add("auth.bcryptCost", "%d is not in 4..31", c.Auth.BcryptCost)
	}
	for _, d := range []struct {
		path string
		v    config.Duration
	}{{"http.readTimeout", c.HTTP.ReadTimeout}, {"http.writeTimeout", c.HTTP.WriteTimeout},
		{"http.idleTimeout", c.HTTP.IdleTimeout}, {"http.fileTimeout", c.HTTP.FileTimeout}} {
		if d.v.Std() < time.Second {
			es.Add(d.path, "%s is shorter than 1s", d.v.Std())
		}
	}
	if c.HTTP.MaxConns < 1 {
		es.Add("http.maxConns", "%d is below 1", c.HTTP.MaxConns)
	}
	if t := c.HTTP.TLS; t != nil && (t.CertFile == "" || t.KeyFile == "") {
		es.Add("http.tls", "certFile and keyFile are both required")
	}
	if c.HTTP.RequireTLS && c.HTTP.TLS == nil && c.HTTP.Listen.Enabled() {
		es.Add("http.requireTLS", "is set but http.tls is not: the REST API would listen in plaintext")
	}
	if _, err := parseProxies(c.HTTP.TrustedProxies); err != nil {
		es.Add("http.trustedProxies", "%v", err)
	}
	lt := c.Auth.LoginThrottle
	if lt.PerAccount < 1 {
		es.Add("auth.loginThrottle.perAccount", "%d is below 1", lt.PerAccount)
	}
	if lt.PerClient < 1 {
		es.Add("auth.loginThrottle.perClient", "%d is below 1", lt.PerClient)
	}
	if lt.Lockout.Std() <= 0 || lt.MaxLockout.Std() < lt.Lockout.Std() {
		es.Add("auth.loginThrottle", "lockout (%s) must be positive and at most maxLockout (%s)", lt.Lockout.Std(), lt.MaxLockout.Std())
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
	if err := c.Fleet.validate(); err != nil {
		es.Add("fleet.signingKey", "%v", err)
	}
	return es.Err()
}

// AuthOptions returns the options of the auth service this configuration
// describes.
func (c *AuthConfig) AuthOptions() auth.Options {
	o := auth.Options{TokenTTL: c.TokenTTL.Std(), BcryptCost: c.BcryptCost, Anonymous: c.Anonymous, CacheTTL: c.CredentialCache.TTL.Std()}
	if c.CredentialCache.Off {
		o.CacheTTL = -1
	}
	return o
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
