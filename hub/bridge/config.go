package bridge

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// Bridge types.
const (
	TypeAMQP    = "amqp"
	TypeKafka   = "kafka"
	TypeWebhook = "webhook"
	TypeMQTT    = "mqtt"
)

// Directions.
const (
	// Out forwards change events of the store to the peer.
	Out = "out"
	// In writes the peer's messages into the store.
	In = "in"
)

// Defaults.
const (
	// DefaultExchange is the topic exchange of an outbound AMQP bridge.
	DefaultExchange = "gridedge"
	// DefaultTopicPrefix is the first topic level of an MQTT bridge's
	// messages.
	DefaultTopicPrefix = "gridedge"
	// DefaultBatch is how many events or messages a bridge handles at once.
	DefaultBatch = 256
	// DefaultTimeout bounds one send to the peer.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBackoff caps the wait between two tries.
	DefaultMaxBackoff = 30 * time.Second
)

// Config is one entry of the hub config's bridges list.
type Config struct {
	// Name identifies the bridge in logs, metrics and its durable consumer
	// (letters, digits, '-' and '_'); unique.
	Name string `json:"name"`
	// Type is amqp, kafka, or webhook or mqtt (out only).
	Type string `json:"type"`
	// URL is the peer: amqp://user:password@host:5672/vhost (amqps://
	// for TLS); kafka://[user:password@]host:9092[,host2:9092] (with a
	// user, SASL SCRAM-SHA-512 as in seed 3.3.7; ?sasl=plain or
	// ?sasl=scram-sha-256 to choose); http(s)://… for a webhook;
	// mqtt://[user:password@]host:1883 (mqtts:// for TLS) for MQTT. A value
	// "$NAME" is read from the environment variable NAME, so that
	// credentials stay out of the file.
	URL string `json:"url"`
	// Direction is out (store → peer) or in (peer → store).
	Direction string `json:"direction"`
	// Layers are the layers an outbound bridge forwards (required for out).
	Layers []string `json:"layers,omitempty"`
	// Exchange is the topic exchange an outbound AMQP bridge publishes to
	// (default "gridedge"; declared durable), or the exchange an inbound
	// AMQP bridge binds its queue to (optional).
	Exchange string `json:"exchange,omitempty"`
	// Queue is the durable queue an inbound AMQP bridge consumes (declared
	// when missing; required for amqp in).
	Queue string `json:"queue,omitempty"`
	// BindingKey binds Queue to Exchange (default "#": everything).
	BindingKey string `json:"bindingKey,omitempty"`
	// Topic is the Kafka topic (required for kafka), or the topic prefix
	// of an MQTT bridge: messages go to <topic>/<layer>/<collection>/<id>
	// (default "gridedge"; no wildcards '+' or '#').
	Topic string `json:"topic,omitempty"`
	// Retain publishes an MQTT bridge's messages retained, so that a new
	// subscriber gets the latest change of every document at once.
	Retain bool `json:"retain,omitempty"`
	// Group is the consumer group of an inbound Kafka bridge (default
	// "gridedge-<name>").
	Group string `json:"group,omitempty"`
	// Converter is the id of a data-model converter (hub/convert): inbound,
	// applied to every message object before it is written; outbound,
	// applied to the document, and its result is the message body instead
	// of the Event. Needs services.converters.
	Converter string `json:"converter,omitempty"`
	// Layer and Collection are where an inbound bridge writes (required
	// for in; the collection must exist).
	Layer string `json:"layer,omitempty"`
	// Collection: see Layer.
	Collection string `json:"collection,omitempty"`
	// Headers are added to every webhook request (e.g. Authorization); a
	// value "$NAME" is read from the environment.
	Headers map[string]string `json:"headers,omitempty"`
	// Batch is how many events (out) or messages (in) are handled at once
	// (default 256).
	Batch int `json:"batch,omitempty"`
	// Timeout bounds one send or write (default 30s).
	Timeout config.Duration `json:"timeout,omitempty"`
	// MaxBackoff caps the wait between tries (default 30s; the first wait
	// is 100ms, doubling).
	MaxBackoff config.Duration `json:"maxBackoff,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Type == TypeAMQP && c.Direction == Out && c.Exchange == "" {
		c.Exchange = DefaultExchange
	}
	if c.Type == TypeAMQP && c.Direction == In && c.Exchange != "" && c.BindingKey == "" {
		c.BindingKey = "#"
	}
	if c.Type == TypeKafka && c.Direction == In && c.Group == "" {
		c.Group = "gridedge-" + c.Name
	}
	if c.Type == TypeMQTT && c.Topic == "" {
		c.Topic = DefaultTopicPrefix
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = config.Duration(DefaultMaxBackoff)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate adds the problems of c to es under path. It does not check
// layer and collection names against the store's rules or the hub's
// services: the daemon does.
func (c *Config) Validate(path string, es *config.Errors) {
	if !nameRE.MatchString(c.Name) {
		es.Add(config.Join(path, "name"), "%q is not a bridge name (1 to 64 letters, digits, '-' or '_')", c.Name)
	}
	switch c.Direction {
	case Out, In:
	default:
		es.Add(config.Join(path, "direction"), "%q is not out or in", c.Direction)
	}
	raw := ResolveEnv(c.URL)
	if raw == "" {
		if strings.HasPrefix(c.URL, "$") {
			es.Add(config.Join(path, "url"), "environment variable %s is empty", c.URL[1:])
		} else {
			es.Add(config.Join(path, "url"), "is required")
		}
	}
	switch c.Type {
	case TypeAMQP:
		if raw != "" {
			if u, err := url.Parse(raw); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
				es.Add(config.Join(path, "url"), "is not an amqp:// or amqps:// URL with a host")
			}
		}
		if c.Direction == In && c.Queue == "" {
			es.Add(config.Join(path, "queue"), "is required for an inbound amqp bridge")
		}
		if c.Direction == Out && c.Queue != "" {
			es.Add(config.Join(path, "queue"), "is for inbound bridges; an outbound amqp bridge publishes to exchange")
		}
	case TypeKafka:
		if raw != "" {
			if _, _, err := KafkaURL(raw); err != nil {
				es.Add(config.Join(path, "url"), "%v", err)
			}
		}
		if c.Topic == "" {
			es.Add(config.Join(path, "topic"), "is required for a kafka bridge")
		}
	case TypeWebhook:
		if raw != "" {
			if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				es.Add(config.Join(path, "url"), "is not an http:// or https:// URL with a host")
			}
		}
		if c.Direction == In {
			es.Add(config.Join(path, "direction"), "a webhook bridge only forwards (out); devices and platforms post to the hub's ingestion routes instead")
		}
	case TypeMQTT:
		if raw != "" {
			if u, err := url.Parse(raw); err != nil || u.Hostname() == "" ||
				(u.Scheme != "mqtt" && u.Scheme != "mqtts" && u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls") {
				es.Add(config.Join(path, "url"), "is not an mqtt:// or mqtts:// URL with a host")
			}
		}
		if c.Topic == "" || strings.ContainsAny(c.Topic, "+#\x00") || strings.HasSuffix(c.Topic, "/") {
			es.Add(config.Join(path, "topic"), "%q is not an MQTT topic prefix (not empty, no '+' or '#', no trailing '/')", c.Topic)
		}
		if c.Direction == In {
			es.Add(config.Join(path, "direction"), "an mqtt bridge only forwards (out); devices publish to the hub's IoT MQTT binding instead")
		}
	default:
		es.Add(config.Join(path, "type"), "%q is not amqp, kafka, webhook or mqtt", c.Type)
	}
	if c.Retain && c.Type != TypeMQTT {
		es.Add(config.Join(path, "retain"), "is for mqtt bridges")
	}
	switch c.Direction {
	case Out:
		if len(c.Layers) == 0 {
			es.Add(config.Join(path, "layers"), "an outbound bridge needs the layers it forwards")
		}
		if c.Layer != "" || c.Collection != "" {
			es.Add(config.Join(path, "layer"), "layer and collection are for inbound bridges; an outbound one forwards layers")
		}
	case In:
		if c.Layer == "" || c.Collection == "" {
			es.Add(config.Join(path, "collection"), "an inbound bridge needs the layer and collection it writes to")
		}
		if len(c.Layers) > 0 {
			es.Add(config.Join(path, "layers"), "layers is for outbound bridges; an inbound one writes layer/collection")
		}
	}
	if c.Batch < 1 || c.Batch > 10000 {
		es.Add(config.Join(path, "batch"), "%d is not between 1 and 10000", c.Batch)
	}
	if c.Timeout.Std() < 10*time.Millisecond {
		es.Add(config.Join(path, "timeout"), "%s is shorter than 10ms", c.Timeout.Std())
	}
	if c.MaxBackoff.Std() < 100*time.Millisecond {
		es.Add(config.Join(path, "maxBackoff"), "%s is shorter than 100ms", c.MaxBackoff.Std())
	}
}

// ResolveEnv returns the environment variable NAME for "$NAME", else s.
func ResolveEnv(s string) string {
	if name, ok := strings.CutPrefix(s, "$"); ok {
		return os.Getenv(name)
	}
	return s
}

// KafkaSASL is the SASL mechanism and credentials of a Kafka URL.
type KafkaSASL struct {
	// Mechanism is "scram-sha-512" (default with a user), "scram-sha-256"
	// or "plain"; "" means no SASL.
	Mechanism string
	// User and Password are the URL's user information.
	User, Password string
}

// KafkaURL parses kafka://[user:password@]host:port[,host:port…][?sasl=…]
// into seed brokers and SASL settings.
func KafkaURL(raw string) ([]string, KafkaSASL, error) {
	var sasl KafkaSASL
	rest, ok := strings.CutPrefix(raw, "kafka://")
	if !ok {
		return nil, sasl, fmt.Errorf("%q is not a kafka:// URL", redact(raw))
	}
	rest, query, _ := strings.Cut(rest, "?")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		var err error
		if sasl.User, err = url.PathUnescape(user); err != nil {
			return nil, sasl, fmt.Errorf("kafka URL user: %w", err)
		}
		if sasl.Password, err = url.PathUnescape(pass); err != nil {
			return nil, sasl, fmt.Errorf("kafka URL password: %w", err)
		}
		sasl.Mechanism = "scram-sha-512"
		rest = rest[at+1:]
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, sasl, fmt.Errorf("kafka URL query: %w", err)
	}
	if m := q.Get("sasl"); m != "" {
		switch m {
		case "plain", "scram-sha-256", "scram-sha-512":
			sasl.Mechanism = m
		default:
			return nil, sasl, fmt.Errorf("kafka URL: sasl=%q is not plain, scram-sha-256 or scram-sha-512", m)
		}
		if sasl.User == "" {
			return nil, sasl, fmt.Errorf("kafka URL: sasl=%s needs user:password@", m)
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	var brokers []string
	for b := range strings.SplitSeq(rest, ",") {
		host, port, ok := strings.Cut(b, ":")
		if !ok || host == "" || port == "" {
			return nil, sasl, fmt.Errorf("kafka URL: broker %q is not host:port", b)
		}
		brokers = append(brokers, b)
	}
	return brokers, sasl, nil
}

// redact drops the user information of a URL for messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = url.User("…")
		return u.String()
	}
	return raw
}
