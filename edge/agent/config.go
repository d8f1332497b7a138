package agent

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/edge/iot"
	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/edge/uplink"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/tlsconf"
)

// Config is the agent's configuration file (JSON or YAML). The X-FLEX
// SETTINGS document is embedded under "settings" or referenced by
// "settingsFile"; without either, the SETTINGS environment variable is used,
// as the original plugin did.
type Config struct {
	// Edge identifies this agent.
	Edge EdgeConfig `json:"edge"`
	// Domain names the deployment in NATS subjects (default "gridedge").
	Domain string `json:"domain,omitempty"`
	// Hub is the hub's leaf-node endpoint and this edge's credentials.
	Hub HubConfig `json:"hub,omitempty"`
	// DataDir holds the buffer file (default ./data/<edge id>).
	DataDir string `json:"dataDir,omitempty"`
	// NATS configures the embedded server's local listener.
	NATS LocalNATSConfig `json:"nats,omitempty"`
	// Settings is the X-FLEX Modbus SETTINGS document, unchanged.
	Settings *settings.Settings `json:"settings,omitempty"`
	// SettingsFile is a path to a SETTINGS document (relative to this file).
	SettingsFile string `json:"settingsFile,omitempty"`
	// DefaultLayer is the layer of slaves without a "document" (default "modbus").
	DefaultLayer string `json:"defaultLayer,omitempty"`
	// Buffer bounds the store-and-forward buffer.
	Buffer BufferConfig `json:"buffer,omitempty"`
	// Forwarder tunes batching towards the hub.
	Forwarder ForwarderConfig `json:"forwarder,omitempty"`
	// Mappings configures measurement transformation (FIWARE IoT-agent style
	// device and group attribute mappings), applied to every reading.
	Mappings transform.Config `json:"mappings,omitempty"`
	// Rules are the bad-data rules, assessed on every reading before it
	// enters the buffer.
	Rules []baddata.Rule `json:"rules,omitempty"`
	// VirtualSensors are X-FLEX virtual-sensor settings (seed 3.2.5), unchanged.
	VirtualSensors *vsensor.Settings `json:"virtualSensors,omitempty"`
	// OPCUA lists OPC-UA servers and the document measurements their nodes
	// feed (docs/opcua.md); their readings take the same pipeline as Modbus.
	OPCUA *opcua.Config `json:"opcua,omitempty"`
	// Devices are local devices pushing IoT Agent JSON over HTTP or MQTT
	// (docs/ingestion.md, "At the edge"); their readings take the same
	// pipeline as Modbus.
	Devices *iot.Config `json:"devices,omitempty"`
	// MQTTOptions tune the MQTT bridge of the SETTINGS mqtt section (QoS,
	// TLS files, queues, audit file).
	MQTTOptions mqtt.Options `json:"mqttOptions,omitempty"`
	// Heartbeat configures the periodic health message to the hub.
	Heartbeat HeartbeatConfig `json:"heartbeat,omitempty"`
	// Control configures map pushes and the other control requests.
	Control ControlConfig `json:"control,omitempty"`
	// Metrics configures the local Prometheus metrics listener (off by
	// default).
	Metrics MetricsConfig `json:"metrics,omitempty"`
	// LogLevel overrides the SETTINGS logLevel: debug, info, warn or error.
	LogLevel string `json:"logLevel,omitempty"`
	// MemoryLimitMiB is a soft memory limit of the agent's Go runtime in
	// MiB (default 0: none). The garbage collector works harder near it;
	// below ~30 MiB at 500 devices it costs more CPU than it saves memory.
	// The GOMEMLIMIT environment variable, when set, takes precedence.
	MemoryLimitMiB int `json:"memoryLimitMiB,omitempty"`
	// GCPercent is the garbage collector's target, as GOGC: a collection
	// starts when the heap has grown by this percentage of the live data
	// since the last one (default 25; Go's own default is 100, which costs
	// ~16 MiB more RSS at 500 devices). The GOGC environment variable,
	// when set, takes precedence.
	GCPercent int `json:"gcPercent,omitempty"`

	// settingsRaw is the SETTINGS document as read from settingsFile or
	// the environment, so that its map version is the hash of what the
	// operator wrote (the same `gridedge map` computes from the file).
	settingsRaw []byte
}

// HeartbeatConfig configures the heartbeat.
type HeartbeatConfig struct {
	// Interval between heartbeats (default 5s).
	Interval config.Duration `json:"interval,omitempty"`
}

// EdgeConfig identifies the agent.
type EdgeConfig struct {
	// ID is the edge's id: unique in the deployment, a NATS subject token.
	ID string `json:"id"`
	// Labels describe the edge for selecting it in the fleet (e.g. site,
	// hardware); they are sent in every heartbeat.
	Labels map[string]string `json:"labels,omitempty"`
}

// HubConfig is where the hub is.
type HubConfig struct {
	// URL is the hub's leaf-node URL, e.g. nats-leaf://hub.example:7422 (""
	// runs the agent standalone: it buffers everything until a hub is configured).
	URL string `json:"url,omitempty"`
	// URLs are the leaf-node URLs of the other nodes of a hub cluster
	// (docs/scaling.md): the link connects to one of url and urls and,
	// when that node is lost, reconnects to another.
	URLs []string `json:"urls,omitempty"`
	// User is the edge's user at the hub (default: the edge id).
	User string `json:"user,omitempty"`
	// Password is the edge's password at the hub.
	Password string `json:"password,omitempty"`
	// CAFile verifies the hub's leaf-node TLS certificate (PEM). With it,
	// with certFile, or with a tls:// URL, the leaf link is encrypted.
	CAFile string `json:"caFile,omitempty"`
	// ServerName overrides the host name checked in the hub's certificate.
	ServerName string `json:"serverName,omitempty"`
	// CertFile and KeyFile are this edge's client certificate and key (PEM)
	// for a hub whose nats.leafTLS has a caFile (mutual TLS). Renewed files
	// are used from the next connection on.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile is the private key of CertFile, PEM.
	KeyFile string `json:"keyFile,omitempty"`
	// RequireTLS refuses a plaintext link to the hub: a nats-leaf:// or
	// nats:// URL without caFile or certFile is a config error.
	RequireTLS bool `json:"requireTLS,omitempty"`
	// Compression of the leaf link: s2_auto (default: S2 at a level chosen
	// by round-trip time, none on a fast link), s2_fast, s2_better,
	// s2_best, or off. Any S2 mode keeps ~2.4 MB of stream buffers on the
	// heap; off saves them (~3 MiB of RSS) and sends ~1.6× the bytes.
	Compression string `json:"compression,omitempty"`
}

// LocalNATSConfig configures the local bus for substation apps.
type LocalNATSConfig struct {
	// Listen is host:port for local NATS clients (default "127.0.0.1:4223";
	// "off" keeps the bus in-process).
	Listen string `json:"listen,omitempty"`
	// User and Password let a local app read live readings and call the
	// agent's services (status, config, read, write, map); never publish on
	// what the edge sends to the hub. Empty: no such user.
	User string `json:"user,omitempty"`
	// Password is User's password, plain or a bcrypt hash.
	Password string `json:"password,omitempty"`
	// AnonymousRead lets local connections without credentials read live
	// readings and nothing else (default true); false refuses them.
	AnonymousRead *bool `json:"anonymousRead,omitempty"`
	// TLS makes the local listener require TLS with this certificate
	// (default none: plaintext, with a warning when the address is not
	// loopback); with caFile, local apps must present a certificate that CA
	// signed. Replaced certificate files are picked up at the next
	// handshake.
	TLS *tlsconf.Files `json:"tls,omitempty"`
}

// BufferConfig bounds the buffer.
type BufferConfig struct {
	// MaxUpdates bounds the number of queued updates (default 10,000,000).
	MaxUpdates uint64 `json:"maxUpdates,omitempty"`
	// MaxBytes bounds their size (default 1 GiB).
	MaxBytes uint64 `json:"maxBytes,omitempty"`
	// MaxAge drops unsent updates older than this (default: never).
	MaxAge config.Duration `json:"maxAge,omitempty"`
	// Overflow is drop-oldest (default) or reject-new.
	Overflow string `json:"overflow,omitempty"`
}

// ForwarderConfig tunes batching towards the hub.
type ForwarderConfig struct {
	// MaxBatch caps the updates per batch (default 500).
	MaxBatch int `json:"maxBatch,omitempty"`
	// MaxBytesPerSecond caps the forwarder's bandwidth on metered links
	// (default 0: no cap).
	MaxBytesPerSecond int `json:"maxBytesPerSecond,omitempty"`
	// AckTimeout is how long to wait for the hub's acknowledgement (default 5s).
	AckTimeout config.Duration `json:"ackTimeout,omitempty"`
	// Linger is how long a batch that is not full waits for more updates
	// before it is sent (default DefaultLinger; 0 sends as soon as anything
	// is buffered). A full batch is sent at once.
	Linger *config.Duration `json:"linger,omitempty"`
}

// linger is Linger, 0 when unset (a Config that skipped Defaults).
func (f *ForwarderConfig) linger() time.Duration {
	if f.Linger == nil {
		return 0
	}
	return f.Linger.Std()
}

// DefaultLinger is forwarder.linger when unset: at 500 devices polled every
// second it makes batches of about 50 updates instead of 3 or 4, which cuts
// the agent's acknowledgement commits and the hub's publishes and applies
// by an order of magnitude for at most this much more latency.
const DefaultLinger = 100 * time.Millisecond

// Load reads a config file, then defaults and validates it.
func Load(path string) (*Config, error) {
	var c Config
	if err := config.ReadFile(path, &c); err != nil {
		return nil, err
	}
	if err := c.Resolve(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// Resolve loads the referenced SETTINGS, fills defaults and validates; dir
// is the directory relative paths are resolved against.
func (c *Config) Resolve(dir string) error {
	switch {
	case c.Settings != nil && c.SettingsFile != "":
		return fmt.Errorf("settings and settingsFile are exclusive")
	case c.SettingsFile != "":
		p := c.SettingsFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("settingsFile: %w", err)
		}
		s, err := settings.Load(data)
		if err != nil {
			return fmt.Errorf("settingsFile %s: %w", p, err)
		}
		c.Settings, c.settingsRaw = s, data
	case c.Settings != nil:
		if err := c.Settings.Validate(); err != nil {
			return prefixErrors("settings", err)
		}
	default:
		s, ok, err := settings.FromEnv()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no SETTINGS: give settings, settingsFile, or the %s environment variable", settings.EnvVar)
		}
		c.Settings, c.settingsRaw = s, []byte(os.Getenv(settings.EnvVar))
	}
	files := []*string{&c.Hub.CAFile, &c.Hub.CertFile, &c.Hub.KeyFile}
	if c.NATS.TLS != nil {
		files = append(files, &c.NATS.TLS.CertFile, &c.NATS.TLS.KeyFile, &c.NATS.TLS.CAFile)
	}
	for _, f := range files {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	if c.OPCUA != nil {
		c.OPCUA.ResolvePaths(dir)
	}
	if c.Devices != nil {
		c.Devices.ResolvePaths(dir)
	}
	c.Defaults()
	return c.Validate()
}

// appendErrors adds err's problems to es with paths under prefix.
func appendErrors(es config.Errors, prefix string, err error) config.Errors {
	if err == nil {
		return es
	}
	var fes config.Errors
	if errors.As(err, &fes) {
		for _, e := range fes {
			es = append(es, &config.FieldError{Path: config.Join(prefix, e.Path), Msg: e.Msg})
		}
		return es
	}
	es.Add(prefix, "%v", err)
	return es
}

func prefixErrors(prefix string, err error) error {
	if es, ok := err.(config.Errors); ok {
		out := make(config.Errors, len(es))
		for i, e := range es {
			out[i] = &config.FieldError{Path: config.Join(prefix, e.Path), Msg: e.Msg}
		}
		return out
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Domain == "" {
		c.Domain = "gridedge"
	}
	if c.Hub.User == "" {
		c.Hub.User = c.Edge.ID
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join("data", c.Edge.ID)
	}
	if c.NATS.Listen == "" {
		c.NATS.Listen = "127.0.0.1:4223"
	}
	if c.NATS.AnonymousRead == nil {
		t := true
		c.NATS.AnonymousRead = &t
	}
	if c.DefaultLayer == "" {
		c.DefaultLayer = "modbus"
	}
	if c.Buffer.Overflow == "" {
		c.Buffer.Overflow = buffer.DropOldest
	}
	if c.Forwarder.Linger == nil {
		d := config.Duration(DefaultLinger)
		c.Forwarder.Linger = &d
	}
	if c.Heartbeat.Interval == 0 {
		c.Heartbeat.Interval = config.Duration(5 * time.Second)
	}
	if c.LogLevel == "" && c.Settings != nil {
		c.LogLevel = strings.ToLower(c.Settings.LogLevel)
		if c.LogLevel == "warning" {
			c.LogLevel = "warn"
		}
	}
	if c.LogLevel == "" {
		c.LogLevel = "error" // the original plugin's default
	}
	c.Control.defaults()
	if c.OPCUA != nil {
		c.OPCUA.Defaults()
	}
	if c.Devices != nil {
		c.Devices.Defaults()
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var es config.Errors
	if err := subject.CheckToken("edge id", c.Edge.ID); err != nil {
		es.Add("edge.id", "%v", err)
	}
	for k, v := range c.Edge.Labels {
		if k == "" || strings.ContainsAny(k, "=, \t") || v == "" {
			es.Add(config.Join("edge.labels", k), "labels need a name without '=', ',' or spaces, and a value")
		}
	}
	if err := subject.CheckToken("domain", c.Domain); err != nil {
		es.Add("domain", "%v", err)
	}
	hubURLs := []struct{ path, url string }{{"hub.url", c.Hub.URL}}
	for i, u := range c.Hub.URLs {
		hubURLs = append(hubURLs, struct{ path, url string }{config.Index("hub.urls", i), u})
	}
	for _, h := range hubURLs {
		if h.url == "" {
			if h.path != "hub.url" {
				es.Add(h.path, "is empty")
			}
			continue
		}
		u, err := url.Parse(h.url)
		if err != nil || u.Host == "" || (u.Scheme != "nats-leaf" && u.Scheme != "tls" && u.Scheme != "nats") {
			es.Add(h.path, "%q is not a leaf-node URL like nats-leaf://hub:7422", h.url)
		}
		if err == nil && c.Hub.RequireTLS && !uplink.LinkTLS(u.Scheme, c.Hub.CAFile, c.Hub.CertFile) {
			es.Add(h.path, "%q is a plaintext link but hub.requireTLS is set: use tls://host:port (with hub.caFile for a private CA)", u.Redacted())
		}
	}
	if (c.Hub.URL != "" || len(c.Hub.URLs) > 0) && c.Hub.Password == "" {
		es.Add("hub.password", "is required with hub.url")
	}
	if (c.Hub.CertFile == "") != (c.Hub.KeyFile == "") {
		es.Add("hub.certFile", "hub.certFile and hub.keyFile go together")
	}
	if t := c.NATS.TLS; t != nil && (t.CertFile == "" || t.KeyFile == "") {
		es.Add("nats.tls", "certFile and keyFile are both required")
	}
	if c.NATS.User != "" && len(c.NATS.Password) < 8 {
		es.Add("nats.password", "must be at least 8 characters with nats.user")
	}
	if c.NATS.User == "anonymous" {
		es.Add("nats.user", "%q is reserved for connections without credentials", c.NATS.User)
	}
	if c.Buffer.Overflow != buffer.DropOldest && c.Buffer.Overflow != buffer.RejectNew {
		es.Add("buffer.overflow", "%q is not %s or %s", c.Buffer.Overflow, buffer.DropOldest, buffer.RejectNew)
	}
	if err := subject.CheckToken("defaultLayer", c.DefaultLayer); err != nil || strings.Contains(c.DefaultLayer, "_") {
		es.Add("defaultLayer", "%q must be a layer name without '_', '.', '*', '>' or spaces", c.DefaultLayer)
	}
	if c.Forwarder.MaxBytesPerSecond < 0 {
		es.Add("forwarder.maxBytesPerSecond", "must not be negative")
	}
	if c.Heartbeat.Interval.Std() < 100*time.Millisecond {
		es.Add("heartbeat.interval", "%s is shorter than 100ms", c.Heartbeat.Interval.Std())
	}
	if l := c.Forwarder.Linger; l != nil && l.Std() > 10*time.Second {
		es.Add("forwarder.linger", "%s is longer than 10s", l.Std())
	}
	if c.Forwarder.MaxBatch < 0 || c.Forwarder.MaxBatch > 10000 {
		es.Add("forwarder.maxBatch", "%d is out of range 1..10000", c.Forwarder.MaxBatch)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		es.Add("logLevel", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.Hub.Compression != "" && !slices.Contains(uplink.Compressions, c.Hub.Compression) {
		es.Add("hub.compression", "%q is not one of %s", c.Hub.Compression, strings.Join(uplink.Compressions, ", "))
	}
	if c.GCPercent < 0 {
		es.Add("gcPercent", "%d is negative; want a percentage of the live heap such as 25 (0: the default)", c.GCPercent)
	}
	c.Control.validate(&es)
	es = appendErrors(es, "mappings", c.Mappings.Validate())
	es = appendErrors(es, "", baddata.Validate(c.Rules))
	if c.VirtualSensors != nil {
		es = appendErrors(es, "virtualSensors", c.VirtualSensors.Validate())
	}
	es = appendErrors(es, "mqttOptions", c.MQTTOptions.Validate())
	if c.Settings != nil {
		for i := range c.Settings.ModbusSlaves {
			d := c.DocumentOf(i)
			p := config.Join(config.Index("settings.modbusSlaves", i), "document")
			for _, f := range []struct{ n, v string }{{"layer", d.Layer}, {"collection", d.Collection}, {"id", d.ID}} {
				if err := subject.CheckToken(f.n, f.v); err != nil {
					es.Add(config.Join(p, f.n), "%v", err)
				}
			}
		}
	}
	c.Metrics.validate(&es)
	if c.OPCUA != nil {
		es = appendErrors(es, "opcua", c.OPCUA.Validate())
	}
	es = c.validateDevices(es)
	return es.Err()
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// DocumentOf returns the document slave i feeds: its "document", or the
// defaults: layer = defaultLayer, collection = the map name in lower case,
// id = "<host or serial port>-<slaveId>" with unsafe characters replaced by '-'.
func (c *Config) DocumentOf(i int) settings.Document {
	sl := &c.Settings.ModbusSlaves[i]
	if sl.Document != nil {
		return *sl.Document
	}
	where := sl.IP
	if where == "" {
		where = filepath.Base(sl.SerialPort)
	}
	return settings.Document{
		Layer:      c.DefaultLayer,
		Collection: strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(sl.Map), "-"), "-"),
		ID:         strings.Trim(unsafeChars.ReplaceAllString(fmt.Sprintf("%s-%d", where, sl.SlaveID), "-"), "-"),
	}
}

// SlaveURL returns the Modbus URL of slave sl: tcp://ip:port,
// rtuovertcp://ip:port, rtu:///dev/…?baud=… or ascii:///dev/…?….
func SlaveURL(sl *settings.Slave) string {
	if sl.IP != "" {
		port := sl.Port
		if port == 0 {
			port = 502
		}
		scheme := sl.Protocol
		if scheme == "" {
			scheme = "tcp"
		}
		host := sl.IP
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		return fmt.Sprintf("%s://%s:%d", scheme, host, port)
	}
	scheme := sl.Protocol
	if scheme == "" {
		scheme = "rtu"
	}
	q := url.Values{}
	q.Set("baud", fmt.Sprint(sl.BaudRate))
	if sl.ByteSize != 0 {
		q.Set("databits", fmt.Sprint(sl.ByteSize))
	}
	if sl.Parity != "" {
		q.Set("parity", strings.ToUpper(sl.Parity[:1]))
	}
	if sl.StopBits != 0 {
		q.Set("stopbits", fmt.Sprint(sl.StopBits))
	}
	return scheme + "://" + sl.SerialPort + "?" + q.Encode()
}
