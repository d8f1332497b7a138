package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// Defaults of Options.
const (
	DefaultQoS            = 1
	DefaultQueueSize      = 256
	DefaultCommandQueue   = 64
	DefaultAuditSize      = 1000
	DefaultErrorSuffix    = "/error"
	DefaultWriteTimeout   = 10 * time.Second
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = time.Minute
	// DefaultVariableWriteRate and DefaultVariableWriteBurst limit the
	// writes to one variable of one slave: 1 a second, 5 at once.
	DefaultVariableWriteRate  = 1.0
	DefaultVariableWriteBurst = 5
	// DefaultBusWriteRate and DefaultBusWriteBurst limit the writes to all
	// the slaves of one bus: 10 a second, 20 at once.
	DefaultBusWriteRate  = 10.0
	DefaultBusWriteBurst = 20
)

// RateLimit is a token bucket: Burst writes at once, then Rate writes a
// second on average. A write that finds no token is refused, not delayed.
type RateLimit struct {
	// Rate is the sustained rate in writes per second (> 0).
	Rate float64 `json:"rate,omitempty"`
	// Burst is how many writes may go at once (>= 1).
	Burst int `json:"burst,omitempty"`
}

// WriteLimits bound the rate of writes, so that a flood of commands cannot
// hold the bus (writes go before polls) or wear a device out. Refused
// writes take no token.
type WriteLimits struct {
	// Variable limits the writes to one variable of one slave (default
	// 1/s, burst 5).
	Variable RateLimit `json:"variable,omitzero"`
	// Bus limits the writes to all slaves of one bus: the slaves with the
	// same ip and port, or the same serialPort (default 10/s, burst 20).
	Bus RateLimit `json:"bus,omitzero"`
}

// Options configure a Bridge beyond what the SETTINGS document says. The
// zero value is usable. The agent configuration carries it (JSON/YAML); every
// field is optional.
type Options struct {
	// QoS of publications and subscriptions: 0, 1 or 2 (default 1).
	QoS *byte `json:"qos,omitempty"`
	// Retain sets the retain flag of publications (default false).
	Retain bool `json:"retain,omitempty"`
	// ClientID is the MQTT client id used when SETTINGS mqtt.clientId is
	// empty; default "gridedge-<hostname>". The agent passes one derived from
	// its edge id.
	ClientID string `json:"clientId,omitempty"`
	// CAFile is a PEM file of the CAs that sign the broker's certificate, for
	// mqtts://, ssl:// and wss:// hosts (default: the system roots).
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and key, for brokers
	// that authenticate clients by certificate.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile,omitempty"`
	// ServerName overrides the name the broker's certificate is checked
	// against (default: the host of mqtt.host).
	ServerName string `json:"serverName,omitempty"`
	// KeepAlive is the MQTT keep-alive period (default 30s).
	KeepAlive config.Duration `json:"keepAlive,omitempty"`
	// ConnectTimeout bounds one connection attempt (default 10s).
	ConnectTimeout config.Duration `json:"connectTimeout,omitempty"`
	// BackoffMin and BackoffMax bound the randomised exponential delay
	// between connection attempts (defaults 1s and 1m).
	BackoffMin config.Duration `json:"backoffMin,omitempty"`
	// BackoffMax: see BackoffMin.
	BackoffMax config.Duration `json:"backoffMax,omitempty"`
	// QueueSize bounds the publications waiting to be sent (default 256);
	// when it is full the oldest is dropped and counted.
	QueueSize int `json:"queueSize,omitempty"`
	// CommandQueue bounds the write commands waiting to be executed (default
	// 64); a command arriving when it is full is refused and reported on the
	// error topic.
	CommandQueue int `json:"commandQueue,omitempty"`
	// WriteTimeout bounds one variable's write: waiting for the bus, reading
	// the current value, writing and reading back (default 10s).
	WriteTimeout config.Duration `json:"writeTimeout,omitempty"`
	// ErrorSuffix is appended to a command's topic to report refused and
	// failed writes (default "/error").
	ErrorSuffix string `json:"errorSuffix,omitempty"`
	// WriteLimits bound the rate of writes per variable and per bus; a
	// write beyond them is refused and audited (ErrRateLimited).
	WriteLimits WriteLimits `json:"writeLimits,omitzero"`
	// AuditSize is how many audit entries AuditLog keeps (default 1000).
	AuditSize int `json:"auditSize,omitempty"`
	// AuditFile, when set, receives every audit entry as one JSON line. It
	// is opened for each entry in append mode, so it may be rotated by
	// renaming it.
	AuditFile string `json:"auditFile,omitempty"`

	// Logger receives connection events, refused commands and the audit
	// trail; default: discard.
	Logger *slog.Logger `json:"-"`
	// Now is the clock (default time.Now); tests set a fake one.
	Now func() time.Time `json:"-"`
}

// qos returns the configured QoS.
func (o *Options) qos() byte {
	if o.QoS == nil {
		return DefaultQoS
	}
	return *o.QoS
}

// defaults fills the unset fields.
func (o *Options) defaults() {
	if o.KeepAlive == 0 {
		o.KeepAlive = config.Duration(DefaultKeepAlive)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = config.Duration(DefaultConnectTimeout)
	}
	if o.BackoffMin == 0 {
		o.BackoffMin = config.Duration(DefaultBackoffMin)
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = config.Duration(max(DefaultBackoffMax, o.BackoffMin.Std()))
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.CommandQueue == 0 {
		o.CommandQueue = DefaultCommandQueue
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = config.Duration(DefaultWriteTimeout)
	}
	if o.ErrorSuffix == "" {
		o.ErrorSuffix = DefaultErrorSuffix
	}
	if o.AuditSize == 0 {
		o.AuditSize = DefaultAuditSize
	}
	o.WriteLimits.Variable.defaults(DefaultVariableWriteRate, DefaultVariableWriteBurst)
	o.WriteLimits.Bus.defaults(DefaultBusWriteRate, DefaultBusWriteBurst)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports every problem of the options at once, with field paths
// relative to the options.
func (o *Options) Validate() error {
	var es config.Errors
	if o.QoS != nil && *o.QoS > 2 {
		es.Add("qos", "%d is not 0, 1 or 2", *o.QoS)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		es.Add("certFile", "certFile and keyFile go together")
	}
	if o.BackoffMin < 0 || o.BackoffMax < 0 || (o.BackoffMax != 0 && o.BackoffMax < o.BackoffMin) {
		es.Add("backoffMax", "%v must be at least backoffMin %v", o.BackoffMax.Std(), o.BackoffMin.Std())
	}
	if o.QueueSize < 0 {
		es.Add("queueSize", "%d is negative", o.QueueSize)
	}
	if o.CommandQueue < 0 {
		es.Add("commandQueue", "%d is negative", o.CommandQueue)
	}
	if o.AuditSize < 0 {
		es.Add("auditSize", "%d is negative", o.AuditSize)
	}
	o.WriteLimits.Variable.validate(&es, "writeLimits.variable")
	o.WriteLimits.Bus.validate(&es, "writeLimits.bus")
	if o.ErrorSuffix != "" && (strings.ContainsAny(o.ErrorSuffix, "+#") || !strings.HasPrefix(o.ErrorSuffix, "/")) {
		es.Add("errorSuffix", "%q must start with / and hold no wildcard", o.ErrorSuffix)
	}
	return es.Err()
}

// defaults fills the unset fields of r.
func (r *RateLimit) defaults(rate float64, burst int) {
	if r.Rate == 0 {
		r.Rate = rate
	}
	if r.Burst == 0 {
		r.Burst = burst
	}
}

// validate adds the problems of r, at path p, to es.
func (r *RateLimit) validate(es *config.Errors, p string) {
	if r.Rate < 0 || math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) {
		es.Add(config.Join(p, "rate"), "%v must be a positive number of writes per second", r.Rate)
	}
	if r.Burst < 0 {
		es.Add(config.Join(p, "burst"), "%d is negative", r.Burst)
	}
}

// BrokerURL turns SETTINGS mqtt.host into a broker URL: "host" and
// "host:port" become mqtt://host:1883 and mqtt://host:port; mqtt://, tcp://,
// mqtts://, ssl://, tls://, ws:// and wss:// URLs are taken as they are,
// with the scheme's default port (1883, 8883, 80 or 443) when none is given.
func BrokerURL(host string) (*url.URL, error) {
	h := strings.TrimSpace(host)
	if h == "" {
		return nil, errors.New("mqtt host is empty")
	}
	if !strings.Contains(h, "://") {
		if ip := net.ParseIP(h); ip != nil && strings.Contains(h, ":") { // bare IPv6
			h = "[" + h + "]"
		}
		h = "mqtt://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return nil, fmt.Errorf("mqtt host %q: %w", host, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	var port string
	switch u.Scheme {
	case "mqtt", "tcp":
		port = "1883"
	case "mqtts", "ssl", "tls":
		port = "8883"
	case "ws":
		port = "80"
	case "wss":
		port = "443"
	default:
		return nil, fmt.Errorf("mqtt host %q: scheme %q is not one of mqtt, tcp, mqtts, ssl, tls, ws, wss", host, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("mqtt host %q: no host name", host)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}

// isTLS reports whether the URL's scheme runs over TLS.
func isTLS(u *url.URL) bool {
	switch u.Scheme {
	case "mqtts", "ssl", "tls", "wss":
		return true
	}
	return false
}

// TLSConfig builds the client TLS configuration of broker URL u (nil for
// a scheme without TLS): the bridge's CA, client certificate and server
// name, for other clients of the same broker (the device binding).
func (o *Options) TLSConfig(u *url.URL) (*tls.Config, error) {
	if !isTLS(u) {
		return nil, nil
	}
	return o.tlsConfig(u)
}

// tlsConfig builds the TLS configuration of a TLS broker URL.
func (o *Options) tlsConfig(u *url.URL) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if o.ServerName != "" {
		c.ServerName = o.ServerName
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt caFile %s: no PEM certificate in it", o.CAFile)
		}
		c.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
