package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/version"
)

// EnvAdminPassword names the environment variable that sets the password of
// the admin user created on the hub's first start. Without it, a password
// is generated and logged once.
const EnvAdminPassword = "GRIDEDGE_ADMIN_PASSWORD"

// RateLimitConfig is a token bucket per credential.
type RateLimitConfig struct {
	// PerSecond is the sustained request rate per user, app or (without
	// credentials) client address (default 100; 0 with Off disables).
	PerSecond float64 `json:"perSecond,omitempty"`
	// Burst is the bucket size (default 2 × PerSecond).
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

// SMTPConfig is the mail server of POST /api/v2/notify/email.
type SMTPConfig struct {
	// Host is the server; empty disables /notify/email (503).
	Host string `json:"host,omitempty"`
	// Port is the server port (default 587).
	Port int `json:"port,omitempty"`
	// Username authenticates with AUTH PLAIN (optional).
	Username string `json:"username,omitempty"`
	// Password goes with Username; "$ENV_NAME" reads it from the environment.
	Password string `json:"password,omitempty"`
	// From is the sender when a message gives none.
	From string `json:"from,omitempty"`
	// TLS is starttls (default), implicit (port 465) or none.
	TLS string `json:"tls,omitempty"`
	// Timeout bounds one delivery (default 30s).
	Timeout config.Duration `json:"timeout,omitempty"`
}

// NotifyConfig configures the /notify paths.
type NotifyConfig struct {
	// SMTP is the mail server of /notify/email.
	SMTP SMTPConfig `json:"smtp,omitempty"`
	// TwitterEndpoint is where /notify/twitter posts tweets (default
	// https://api.twitter.com/2/tweets).
	TwitterEndpoint string `json:"twitterEndpoint,omitempty"`
}

// GatewayConfig configures POST /api/v2/gateway.
type GatewayConfig struct {
	// Timeout bounds a NATS request (default 10s).
	Timeout config.Duration `json:"timeout,omitempty"`
}

func (c *Config) apiDefaults() {
	if c.HTTP.RateLimit.PerSecond == 0 && !c.HTTP.RateLimit.Off {
		c.HTTP.RateLimit.PerSecond = 100
	}
	if c.HTTP.MaxLimit == 0 {
		c.HTTP.MaxLimit = api.MaxLimit
	}
	if c.HTTP.DefaultLimit == 0 {
		c.HTTP.DefaultLimit = min(api.DefaultLimit, c.HTTP.MaxLimit)
	}
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = api.DefaultMaxBodyBytes
	}
	if c.HTTP.MaxUploadBytes == 0 {
		c.HTTP.MaxUploadBytes = api.DefaultMaxUploadBytes
	}
	if c.Auth.TokenTTL == 0 {
		c.Auth.TokenTTL = config.Duration(24 * time.Hour)
	}
	if c.Auth.BcryptCost == 0 {
		c.Auth.BcryptCost = 10
	}
	if c.Notify.TwitterEndpoint == "" {
		c.Notify.TwitterEndpoint = api.DefaultTwitterEndpoint
	}
	if c.Gateway.Timeout == 0 {
		c.Gateway.Timeout = config.Duration(10 * time.Second)
	}
}

func (c *Config) apiValidate(es *config.Errors) {
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
	switch c.Notify.SMTP.TLS {
	case "", "starttls", "implicit", "none":
	default:
		es.Add("notify.smtp.tls", "%q is not one of starttls, implicit, none", c.Notify.SMTP.TLS)
	}
	if c.Notify.SMTP.Port < 0 || c.Notify.SMTP.Port > 65535 {
		es.Add("notify.smtp.port", "%d is not a port", c.Notify.SMTP.Port)
	}
	if c.Notify.SMTP.Username != "" && c.Notify.SMTP.Host == "" {
		es.Add("notify.smtp.host", "is required when username is set")
	}
	if !strings.HasPrefix(c.Notify.TwitterEndpoint, "http://") && !strings.HasPrefix(c.Notify.TwitterEndpoint, "https://") {
		es.Add("notify.twitterEndpoint", "%q is not an http(s) URL", c.Notify.TwitterEndpoint)
	}
	if c.Gateway.Timeout.Std() <= 0 {
		es.Add("gateway.timeout", "must be positive")
	}
}

// secret returns s, or the environment variable it names as "$NAME".
func secret(s string) string {
	if name, ok := strings.CutPrefix(s, "$"); ok && name != "" {
		return os.Getenv(name)
	}
	return s
}

// startAuth creates the auth service and bootstraps the admin user. It
// must run before anything else writes the system layer.
func startAuth(ctx context.Context, h *Hub) error {
	cfg := h.cfg
	h.auth = auth.New(h.st, auth.Options{
		TokenTTL: cfg.Auth.TokenTTL.Std(), BcryptCost: cfg.Auth.BcryptCost,
		Anonymous: cfg.Auth.Anonymous, Logger: h.log,
	})
	generated, err := h.auth.Bootstrap(ctx, os.Getenv(EnvAdminPassword))
	if err != nil {
		return err
	}
	if generated != "" {
		// Printed once: the hash is all the hub keeps.
		h.log.Warn("first start: created user admin with a generated password; change it with PATCH /api/v2/users/admin (set "+
			EnvAdminPassword+" to choose it instead)", "user", auth.AdminUser, "password", generated)
	}
	return nil
}

// apiHandler builds the REST API handler.
func apiHandler(h *Hub, log *slog.Logger) http.Handler {
	cfg := h.cfg
	a := &api.Server{
		// REST writes announce themselves on <domain>.storage.changed.<layer>.<collection>
		Store: store.WithChanges(h.st, h.publishChange), Auth: h.auth, Version: version.String(), Logger: log,
		Limits: api.Limits{DefaultLimit: cfg.HTTP.DefaultLimit, MaxLimit: cfg.HTTP.MaxLimit,
			MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxUploadBytes: cfg.HTTP.MaxUploadBytes},
		RateLimit: api.RateLimit{PerSecond: cfg.HTTP.RateLimit.PerSecond, Burst: cfg.HTTP.RateLimit.Burst},
		SMTP: api.SMTPConfig{Host: cfg.Notify.SMTP.Host, Port: cfg.Notify.SMTP.Port, Username: cfg.Notify.SMTP.Username,
			Password: secret(cfg.Notify.SMTP.Password), From: cfg.Notify.SMTP.From, TLS: cfg.Notify.SMTP.TLS,
			Timeout: cfg.Notify.SMTP.Timeout.Std()},
		TwitterEndpoint: cfg.Notify.TwitterEndpoint,
		Gateway:         api.Gateway{Domain: cfg.Domain, Timeout: cfg.Gateway.Timeout.Std()},
	}
	if cfg.HTTP.RateLimit.Off {
		a.RateLimit = api.RateLimit{}
	}
	if cfg.NATS.Listen != "off" {
		url := h.br.ClientURL()
		a.Gateway.Dial = func(ctx context.Context, opts ...nats.Option) (*nats.Conn, error) {
			nc, err := nats.Connect(url, opts...)
			if err != nil {
				return nil, fmt.Errorf("gateway: %w", err)
			}
			return nc, nil
		}
	}
	return a.Handler()
}

// Auth is the hub's authentication service (users, tokens, apps).
func (h *Hub) Auth() *auth.Service { return h.auth }
