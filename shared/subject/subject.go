// Package subject is the one place that spells NATS subjects. Subjects follow
// the X-FLEX hierarchy <domain>.<service>.<action>[.<details>]; nobody formats
// subject strings by hand.
package subject

import (
	"fmt"
	"strings"
)

// Service names used in the second token of a subject.
const (
	ServiceIngest  = "ingest"
	ServiceEdge    = "edge"
	ServiceStorage = "storage"
	ServiceLive    = "live"
)

// Edge control actions, used in <domain>.edge.<edge>.<action>.
const (
	ActionStatus    = "status"
	ActionConfigGet = "config.get"
	ActionMapPush   = "map.push"
	ActionRead      = "read"
	ActionWrite     = "write"
	ActionHeartbeat = "heartbeat"
	// ActionHWM asks the hub for the highest sequence number it applied for
	// the edge (request/reply; answer {"edge","hwm"}).
	ActionHWM = "hwm"
)

// CheckToken reports whether s can be used as one subject token: not empty,
// and free of '.', '*', '>' and white space.
func CheckToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return r == '.' || r == '*' || r == '>' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}); i >= 0 {
		return fmt.Errorf("%s %q contains %q, which cannot appear in a NATS subject token", what, s, s[i])
	}
	return nil
}

func join(tokens ...string) string { return strings.Join(tokens, ".") }

// Ingest is where edge edge publishes its batches: <domain>.ingest.<edge>.
func Ingest(domain, edge string) string { return join(domain, ServiceIngest, edge) }

// IngestAll matches the batches of every edge of a domain: <domain>.ingest.*.
func IngestAll(domain string) string { return join(domain, ServiceIngest, "*") }

// EdgeControl is a control subject of one edge: <domain>.edge.<edge>.<action>.
func EdgeControl(domain, edge, action string) string {
	return join(domain, ServiceEdge, edge, action)
}

// HWMAll matches the high-water-mark requests of every edge of a domain.
func HWMAll(domain string) string { return join(domain, ServiceEdge, "*", ActionHWM) }

// EdgeAll matches every subject of one edge: <domain>.edge.<edge>.>.
func EdgeAll(domain, edge string) string { return join(domain, ServiceEdge, edge, ">") }

// Heartbeat is the periodic health subject of one edge.
func Heartbeat(domain, edge string) string { return EdgeControl(domain, edge, ActionHeartbeat) }

// HeartbeatAll matches the heartbeats of every edge of a domain.
func HeartbeatAll(domain string) string { return join(domain, ServiceEdge, "*", ActionHeartbeat) }

// Live is where an edge publishes live readings of one document for local apps:
// <domain>.live.<edge>.<layer>.<collection>.<id>.
func Live(domain, edge, layer, collection, id string) string {
	return join(domain, ServiceLive, edge, layer, collection, id)
}

// LiveAll matches the live readings of one edge: <domain>.live.<edge>.>.
func LiveAll(domain, edge string) string { return join(domain, ServiceLive, edge, ">") }

// StorageChanged is published after every committed write to a collection:
// <domain>.storage.changed.<layer>.<collection>.
func StorageChanged(domain, layer, collection string) string {
	return join(domain, ServiceStorage, "changed", layer, collection)
}

// StorageChangedAll matches every change event of a domain.
func StorageChangedAll(domain string) string { return join(domain, ServiceStorage, "changed", ">") }

// Storage is a storage RPC subject: <domain>.storage.<action>.
func Storage(domain, action string) string { return join(domain, ServiceStorage, action) }

// ActionHistory is the storage RPC that answers history queries.
const ActionHistory = "history"

// StorageHistory is the history request/reply subject:
// <domain>.storage.history (the parameters of GET /api/v2/history).
func StorageHistory(domain string) string { return Storage(domain, ActionHistory) }

// DeadLetter is where a service puts messages it could not process:
// <domain>.deadletter.<service>.
func DeadLetter(domain, service string) string { return join(domain, "deadletter", service) }

// DeadLetterAll matches every dead letter of a domain.
func DeadLetterAll(domain string) string { return join(domain, "deadletter", ">") }

// Token returns the n-th (0-based) token of a subject, or "".
func Token(subj string, n int) string {
	parts := strings.Split(subj, ".")
	if n < 0 || n >= len(parts) {
		return ""
	}
	return parts[n]
}

// EdgeInbox is the reply-subject prefix an edge's connections use, so that
// the edge's leaf permissions need not open every inbox: _INBOX_<edge>.
func EdgeInbox(edge string) string { return "_INBOX_" + edge }

// ServiceForecast is the forecasting service of the hub (seed 3.2.2.3).
const ServiceForecast = "forecast"

// Actions on a forecast model: requests (get, delete, train, forecast) and
// the completion events the service publishes.
const (
	ForecastGet                  = "get"
	ForecastDelete               = "delete"
	ForecastTrain                = "train"
	ForecastForecast             = "forecast"
	ForecastTrainingCompleted    = "trainingcompleted"
	ForecastForecastingCompleted = "forecastingcompleted"
)

// ForecastCreate is the subject that creates a model:
// <domain>.forecast.model.create (request MODEL_PARAMS, reply MODEL_DESCRIPTION).
func ForecastCreate(domain string) string { return join(domain, ServiceForecast, "model", "create") }

// ForecastModel is the subject of an action on one model:
// <domain>.forecast.model.<id>.<action>.
func ForecastModel(domain, id, action string) string {
	return join(domain, ServiceForecast, "model", id, action)
}

// ForecastModelAll matches one action on every model:
// <domain>.forecast.model.*.<action>.
func ForecastModelAll(domain, action string) string {
	return join(domain, ServiceForecast, "model", "*", action)
}

// Services of the hub beside the store (docs/services.md).
const (
	// ServiceConverters is the data-model converter service (seed 3.2.3).
	ServiceConverters = "converters"
	// ServiceVSensors is the virtual-sensor service (seed 3.2.5).
	ServiceVSensors = "vsensors"
	// ServiceIncidents is the incidents and workflows service (seed 3.2.4).
	ServiceIncidents = "incidents"
	// ServiceAlerts is the alert-rules service.
	ServiceAlerts = "alerts"
	// ServiceWeather is the weather service (seed 3.2.1).
	ServiceWeather = "weather"
)

// Converters is a converter request subject: <domain>.converters.<action>
// (apply, test).
func Converters(domain, action string) string { return join(domain, ServiceConverters, action) }

// VSensors is a virtual-sensor subject: <domain>.vsensors.<action> (stats).
func VSensors(domain, action string) string { return join(domain, ServiceVSensors, action) }

// Incidents is an incidents request subject: <domain>.incidents.<action>
// (list, get, ack, resolve, retry).
func Incidents(domain, action string) string { return join(domain, ServiceIncidents, action) }

// Alerts is an alert-rules request subject: <domain>.alerts.<action>
// (list, status, test).
func Alerts(domain, action string) string { return join(domain, ServiceAlerts, action) }

// Weather is a weather request subject: <domain>.weather.<action>
// (current, forecast).
func Weather(domain, action string) string { return join(domain, ServiceWeather, action) }
