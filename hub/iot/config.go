package iot

import (
	"errors"
	"net/url"

	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
	"github.com/gridedge/gridedge/shared/subject"
)

// Defaults of Config.
const (
	DefaultService     = "iot"
	DefaultSubservice  = "/"
	DefaultEdge        = "iot"
	DefaultMaxPayload  = 100 << 10 // body-parser's default limit, which the IoT agents use
	DefaultRatePerSec  = 10
	DefaultRateBurst   = 20
	DefaultMaxDevices  = 100000
	DefaultMQTTClient  = "gridedge-hub-iot"
	DefaultLibVersion  = "3.3.0"
	DefaultConjunction = ":"
)

// Config is the iot section of the hub config.
type Config struct {
	// Enabled serves the provisioning API and the southbound bindings.
	Enabled bool `json:"enabled,omitempty"`
	// Autoprovision creates a device on its first reading when its config
	// group allows it (default true; a group's autoprovision false refuses
	// it for that group).
	Autoprovision *bool `json:"autoprovision,omitempty"`
	// DefaultService is the fiware-service of requests without the header
	// (default "iot"); it names the layer the devices write to.
	DefaultService string `json:"defaultService,omitempty"`
	// DefaultSubservice is the fiware-servicepath of requests without the
	// header (default "/").
	DefaultSubservice string `json:"defaultSubservice,omitempty"`
	// Edge is the pseudo-edge whose sequence numbers the readings are
	// applied under (default "iot"); it must not be a configured edge.
	Edge string `json:"edge,omitempty"`
	// MaxPayload is the largest measurement body in bytes, HTTP or MQTT
	// (default 102400, the IoT agents' limit).
	MaxPayload int64 `json:"maxPayload,omitempty"`
	// RateLimit bounds the readings of each device.
	RateLimit RateConfig `json:"rateLimit,omitempty"`
	// MaxDevices bounds the devices; autoprovisioning beyond it is refused
	// (default 100000).
	MaxDevices int `json:"maxDevices,omitempty"`
	// Rules are the bad-data rules the readings go through after the
	// measurement transformation (shared/pipeline/baddata).
	Rules []baddata.Rule `json:"rules,omitempty"`
	// MQTT connects the hub to an MQTT broker for the MQTT binding.
	MQTT MQTTConfig `json:"mqtt,omitempty"`
	// Converters pass a config group's measurement objects through a
	// data-model converter (services.converters) before the attribute
	// mapping: {"<apikey>[@<resource>]": "<converter id>"} (converter.go).
	Converters map[string]string `json:"converters,omitempty"`
}

// RateConfig is a token bucket per device.
type RateConfig struct {
	// PerSecond is the sustained rate of readings (requests or MQTT
	// messages) per device (default 10).
	PerSecond float64 `json:"perSecond,omitempty"`
	// Burst is how many may come at once (default 20).
	Burst int `json:"burst,omitempty"`
}

// MQTTConfig is the MQTT binding's broker connection.
type MQTTConfig struct {
	// URL of the broker, e.g. mqtt://127.0.0.1:1883 or tcp://…; empty: no
	// MQTT binding.
	URL string `json:"url,omitempty"`
	// ClientID is the hub's client id (default "gridedge-hub-iot").
	ClientID string `json:"clientId,omitempty"`
	// Username and Password authenticate the hub to the broker.
	Username string `json:"username,omitempty"`
	// Password goes with Username.
	Password string `json:"password,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Autoprovision == nil {
		t := true
		c.Autoprovision = &t
	}
	if c.DefaultService == "" {
		c.DefaultService = DefaultService
	}
	if c.DefaultSubservice == "" {
		c.DefaultSubservice = DefaultSubservice
	}
	if c.Edge == "" {
		c.Edge = DefaultEdge
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
	if c.MaxDevices == 0 {
		c.MaxDevices = DefaultMaxDevices
	}
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = DefaultMQTTClient
	}
}

// Validate adds the problems of c to es under path (call Defaults first).
func (c *Config) Validate(path string, es *config.Errors) {
	if !c.Enabled {
		return
	}
	validateConverters(c, path, es)
	if _, err := LayerOf(c.DefaultService); err != nil {
		es.Add(config.Join(path, "defaultService"), "%v", err)
	}
	if err := checkServicePath(c.DefaultSubservice); err != nil {
		es.Add(config.Join(path, "defaultSubservice"), "%v", err)
	}
	if err := subject.CheckToken("edge", c.Edge); err != nil {
		es.Add(config.Join(path, "edge"), "%v", err)
	}
	if c.MaxPayload < 0 {
		es.Add(config.Join(path, "maxPayload"), "is negative")
	}
	if c.RateLimit.PerSecond < 0 {
		es.Add(config.Join(path, "rateLimit.perSecond"), "is negative")
	}
	if c.RateLimit.Burst < 0 {
		es.Add(config.Join(path, "rateLimit.burst"), "is negative")
	}
	if c.MaxDevices < 0 {
		es.Add(config.Join(path, "maxDevices"), "is negative")
	}
	var rs config.Errors
	if err := baddata.Validate(c.Rules); errors.As(err, &rs) {
		for _, e := range rs {
			es.Add(config.Join(path, e.Path), "%s", e.Msg)
		}
	} else if err != nil {
		es.Add(config.Join(path, "rules"), "%v", err)
	}
	if c.MQTT.URL != "" {
		u, err := url.Parse(c.MQTT.URL)
		switch {
		case err != nil:
			es.Add(config.Join(path, "mqtt.url"), "%v", err)
		case u.Host == "":
			es.Add(config.Join(path, "mqtt.url"), "%q has no host (want mqtt://host:port)", c.MQTT.URL)
		case u.Scheme != "mqtt" && u.Scheme != "tcp" && u.Scheme != "mqtts" && u.Scheme != "ssl" && u.Scheme != "tls":
			es.Add(config.Join(path, "mqtt.url"), "scheme %q is not mqtt, tcp, mqtts, ssl or tls", u.Scheme)
		}
	}
}
