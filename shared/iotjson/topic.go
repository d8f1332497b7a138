package iotjson

import "strings"

// ResourceMQTT is the resource of readings that come over MQTT: a config
// group is found by apikey (and, when several groups share the apikey, by
// this resource).
const ResourceMQTT = "/iot/mqtt"

// ResourceJSON is the resource of the HTTP binding, POST /iot/json.
const ResourceJSON = "/iot/json"

// Filters are the topics of the MQTT binding: IoT Agent JSON's
// <apikey>/<deviceId>/attrs[/<attr>] and …/cmdexe (also with a leading
// '/'), and the same with the device token as a third level.
var Filters = []string{
	"+/+/attrs", "+/+/attrs/+", "+/+/cmdexe", // <apikey>/<deviceId>/…
	"+/+/+/attrs", "+/+/+/attrs/+", "+/+/+/cmdexe", // with a token, or a leading '/'
	"+/+/+/+/attrs", "+/+/+/+/attrs/+", "+/+/+/+/cmdexe", // both
}

// Topic is a parsed MQTT topic of the binding.
type Topic struct {
	// APIKey selects the config group.
	APIKey string
	// Device is the device id.
	Device string
	// Token is the device token of a topic that carries one.
	Token string
	// Kind is "attrs" or "cmdexe".
	Kind string
	// Attr is the measure of …/attrs/<attr>.
	Attr string
}

// ParseTopic reads <apikey>/<deviceId>[/<token>]/(attrs[/<attr>]|cmdexe),
// with an optional leading '/'.
func ParseTopic(topic string) (Topic, bool) {
	parts := strings.Split(strings.TrimPrefix(topic, "/"), "/")
	var p Topic
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
		return Topic{}, false
	}
	p.APIKey, p.Device = parts[0], parts[1]
	rest := parts[2:]
	if rest[0] != "attrs" && rest[0] != "cmdexe" {
		p.Token, rest = rest[0], rest[1:]
	}
	switch {
	case len(rest) == 1 && (rest[0] == "attrs" || rest[0] == "cmdexe"):
		p.Kind = rest[0]
	case len(rest) == 2 && rest[0] == "attrs" && rest[1] != "":
		p.Kind, p.Attr = "attrs", rest[1]
	default:
		return Topic{}, false
	}
	return p, true
}
