// Package alerts evaluates alert rules at the hub: conditions in the shared
// expression language (shared/expression, the language of the edge's
// bad-data rules) over windows of the measurement history, and the edge's
// bad-data detectors (shared/pipeline/baddata) on the data that reaches the
// hub. A firing rule creates an incident document in incidents/items, so
// that the workflows and notifications of hub/incidents apply; it is not
// created again while it is open (de-duplication) nor within the rule's
// cooldown of the previous one, and it is resolved (status "resolved",
// resolvedAt) when the condition clears.
//
// A rule names its inputs as variables, each a reference to a field of a
// document with an aggregation over a sliding window:
//
//	{"id": "feeder-imbalance", "type": "IMBALANCE", "cooldown": "10m",
//	 "vars": {"a": {"ref": "gridflex_meters.M1>measurements.voltage", "agg": "avg", "window": "5m"},
//	          "b": {"ref": "gridflex_meters.M2>measurements.voltage", "agg": "avg", "window": "5m"}},
//	 "condition": "a - b > 5"}
//
// A reference written in the condition itself, {layer_collection.ID>path}
// as in the seed's virtual sensors, is the field's latest value:
// "{gridflex_meters.M1>measurements.voltage} - {gridflex_meters.M2>measurements.voltage} > 5".
//
// Aggregations: last (default), avg, min, max, sum, count (readings in the
// window), delta (last minus first in the window), rate (delta per second
// between the first and last readings of the window) and age (seconds since
// the latest reading, or since the service took the rules over when there
// is none, so "age > 300" finds absence). A reading is identified by its
// timestamp (the measurement's, else measurementsTimestamp, else _updated):
// one not newer than the field's latest is ignored. Values are numbers
// (booleans count as 0 and 1); a field holding anything else is undefined. A window is kept in memory from the change feed and filled from
// the history (hub/history) when the service starts or takes over; rules
// with windows or ages are also evaluated every tick, so that a reading
// leaving the window, or one that never comes, is noticed.
//
// With several hubs, one evaluates the rules: the holder of a lease in the
// JetStream key-value bucket gridedge_alerts_<domain>. A hub that takes
// over fills its windows from the history and reads the open incidents of
// its rules from the store.
package alerts
