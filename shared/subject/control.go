package subject

// Edge control actions added for fleet operations, used in
// <domain>.edge.<edge>.<action> like the ones in subject.go.
const (
	// ActionMapRollback restores the map an edge ran before its last push.
	ActionMapRollback = "map.rollback"
	// ActionMapGet returns the SETTINGS document an edge runs, its version and pusher.
	ActionMapGet = "map.get"
)

// EdgeControlActions lists every request/reply action an edge agent
// answers on <domain>.edge.<edge>.<action>, in a stable order. Heartbeats
// and high-water-mark requests are not among them: the edge publishes or
// asks those, it does not answer them.
var EdgeControlActions = []string{
	ActionMapPush, ActionMapRollback, ActionMapGet, ActionConfigGet,
	ActionStatus, ActionRead, ActionWrite,
}

// ServiceFleet is the hub's fleet service: the hub's view of every edge.
const ServiceFleet = "fleet"

// FleetList is the request/reply subject that lists every edge the hub
// knows with its health: <domain>.fleet.list.
func FleetList(domain string) string { return join(domain, ServiceFleet, "list") }

// FleetStatus is the request/reply subject that returns the hub's record
// of one edge: <domain>.fleet.status.<edge>.
func FleetStatus(domain, edge string) string { return join(domain, ServiceFleet, "status", edge) }

// FleetStatusAll matches the fleet status requests of every edge:
// <domain>.fleet.status.*.
func FleetStatusAll(domain string) string { return join(domain, ServiceFleet, "status", "*") }
