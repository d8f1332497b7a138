package iot

import (
	"path/filepath"
	"strings"

	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/iotjson"
	"github.com/gridedge/gridedge/shared/tlsconf"
)

// Defaults of Config.
const (
	DefaultService    = "iot"
	DefaultSubservice = "/"
	DefaultMaxPayload = 100 << 10 // body-parser's default limit, which the IoT agents use
	DefaultRatePerSec = 10
	DefaultRateBurst  = 20
	DefaultMaxDevices = 1000
	DefaultMQTTClient = "gridedge-agent-devices"
)

// Config is the devices section of the agent config: the config groups and
// devices in the IoT agent's JSON shape (seed 003), and the southbound
// bindings. There is no provisioning API at the edge: the config file is
// the provisioning.
type Config struct {
	// Service is the fiware-service of groups and devices that name none;
	// it gives the layer the devices write to ('_' turned into '-'),
	// default "iot".
	Service string `json:"service,omitempty"`
	// Subservice is the fiware-servicepath of groups and devices that name
	// none (default "/").
	Subservice string `json:"subservice,omitempty"`
	// Autoprovision accepts readings of devices that are not listed, in a
	// group that allows it (default true); such devices live in memory
	// only, at most MaxDevices of them.
	Autoprovision *bool `json:"autoprovision,omitempty"`
	// MaxDevices bounds the autoprovisioned devices (default 1000).
	MaxDevices int `json:"maxDevices,omitempty"`
	// MaxPayload is the largest measurement body in bytes, HTTP or MQTT
	// (default 102400).
	MaxPayload int64 `json:"maxPayload,omitempty"`
	// RateLimit bounds the readings of each device, HTTP and MQTT together.
	RateLimit RateConfig `json:"rateLimit,omitempty"`
	// HTTP is the local listener of POST /iot/json (off without listen).
	HTTP HTTPConfig `json:"http,omitempty"`
	// MQTT subscribes to <apikey>/<deviceId>/attrs on a broker.
	MQTT MQTTConfig `json:"mqtt,omitempty"`
	// Groups are the config groups (apikey, resource, entity_type,
	// attributes, static_attributes, explicitAttrs, entityNameExp,
	// autoprovision, …).
	Groups []iotjson.Group `json:"groups,omitempty"`
	// Devices are the provisioned devices (device_id, entity_name,
	// entity_type, apikey, attributes, static_attributes, …, token_hash).
	Devices []DeviceConfig `json:"devices,omitempty"`
}

// DeviceConfig is a device in the IoT agent's shape plus its token hash.
type DeviceConfig struct {
	iotjson.Device
	// TokenHash is the hex SHA-256 of the device's token
	// (`printf %s "$TOKEN" | sha256sum`); a device with one must send its
	// token with every reading.
	TokenHash string `json:"token_hash,omitempty"`
}

// RateConfig is a token bucket per device.
type RateConfig struct {
	// PerSecond is the sustained rate of readings per device (default 10).
	PerSecond float64 `json:"perSecond,omitempty"`
	// Burst is how many may come at once (default 20).
	Burst int `json:"burst,omitempty"`
}

// HTTPConfig is the local HTTP binding.
type HTTPConfig struct {
	// Listen is the address of the listener, e.g. 127.0.0.1:7896 (the IoT
	// Agent JSON's port); empty: no HTTP binding.
	Listen string `json:"listen,omitempty"`
	// TLS, when set, serves HTTPS with these files (a client CA makes it
	// mutual TLS).
	TLS *tlsconf.Files `json:"tls,omitempty"`
}

// MQTTConfig is the MQTT binding's broker connection.
type MQTTConfig struct {
	// Enabled subscribes to the binding's topics.
	Enabled bool `json:"enabled,omitempty"`
	// URL of the broker (mqtt://host:port, mqtts://…); empty: the broker
	// of the SETTINGS mqtt section, with its credentials (the one the
	// agent's MQTT bridge uses).
	URL string `json:"url,omitempty"`
	// Username authenticates the agent to the broker of URL.
	Username string `json:"username,omitempty"`
	// Password goes with Username.
	Password string `json:"password,omitempty"`
	// ClientID is the agent's client id for the binding (default
	// "gridedge-agent-devices").
	ClientID string `json:"clientId,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Service == "" {
		c.Service = DefaultService
	}
	if c.Subservice == "" {
		c.Subservice = DefaultSubservice
	}
	if c.Autoprovision == nil {
		t := true
		c.Autoprovision = &t
	}
	if c.MaxDevices == 0 {
		c.MaxDevices = DefaultMaxDevices
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.RateLimit.PerSecond == 0 {
		c.RateLimit.PerSecond = DefaultRatePerSec
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = DefaultRateBurst
	}
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = DefaultMQTTClient
	}
	for i := range c.Groups {
		g := &c.Groups[i]
		if g.Service == "" {
			g.Service = c.Service
		}
		if g.Subservice == "" {
			g.Subservice = c.Subservice
		}
	}
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.Service == "" {
			d.Service = c.Service
		}
		if d.ServicePath == "" {
			d.ServicePath = c.Subservice
		}
	}
}

// Validate returns every problem with its path (call Defaults first).
func (c *Config) Validate() error {
	var es config.Errors
	if _, err := iotjson.LayerOf(c.Service); err != nil {
		es.Add("service", "%v", err)
	}
	if err := iotjson.CheckServicePath(c.Subservice); err != nil {
		es.Add("subservice", "%v", err)
	}
	if c.MaxPayload < 0 {
		es.Add("maxPayload", "is negative")
	}
	if c.RateLimit.PerSecond < 0 {
		es.Add("rateLimit.perSecond", "is negative")
	}
	if c.RateLimit.Burst < 0 {
		es.Add("rateLimit.burst", "is negative")
	}
	if c.MaxDevices < 0 {
		es.Add("maxDevices", "is negative")
	}
	if t := c.HTTP.TLS; t != nil && (t.CertFile == "" || t.KeyFile == "") {
		es.Add("http.tls", "certFile and keyFile are both required")
	}
	if c.MQTT.URL != "" {
		if _, err := mqtt.BrokerURL(c.MQTT.URL); err != nil {
			es.Add("mqtt.url", "%v", err)
		}
	}
	seen := map[[2]string]bool{}
	for i := range c.Groups {
		g := &c.Groups[i]
		p := config.Index("groups", i)
		if _, err := iotjson.LayerOf(g.Service); err != nil {
			es.Add(config.Join(p, "service"), "%v", err)
		}
		if e := iotjson.CheckGroup(g); e != nil {
			es.Add(p, "%s", e.Message)
			continue
		}
		k := [2]string{g.Resource, g.APIKey}
		if seen[k] {
			es.Add(p, "%s", iotjson.DuplicateGroup(g.Resource, g.APIKey).Message)
		}
		seen[k] = true
	}
	ids := map[[2]string]bool{}
	for i := range c.Devices {
		d := &c.Devices[i]
		p := config.Index("devices", i)
		if _, err := iotjson.LayerOf(d.Service); err != nil {
			es.Add(config.Join(p, "service"), "%v", err)
		}
		if e := iotjson.CheckDevice(&d.Device); e != nil {
			es.Add(p, "%s", e.Message)
			continue
		}
		if d.TokenHash != "" && !iotjson.ValidHash(strings.ToLower(d.TokenHash)) {
			es.Add(config.Join(p, "token_hash"), "is not a hex SHA-256 (64 hex digits) of the device's token")
		}
		k := [2]string{d.Service, d.DeviceID}
		if ids[k] {
			es.Add(p, "%s", iotjson.DuplicateDevice(d.DeviceID).Message)
		}
		ids[k] = true
	}
	return es.Err()
}

// ResolvePaths makes the TLS files relative to dir absolute.
func (c *Config) ResolvePaths(dir string) {
	if t := c.HTTP.TLS; t != nil {
		for _, f := range []*string{&t.CertFile, &t.KeyFile, &t.CAFile} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(dir, *f)
			}
		}
	}
}
