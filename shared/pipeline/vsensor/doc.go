// Package vsensor computes virtual sensors: documents whose measurements are
// derived from other documents' data, configured with the X-FLEX virtual
// sensor settings (seed 000, section 3.2.5), which are accepted unchanged.
//
//	{"sensors": [{"collection": "gridflex_loads", "virtualsensors": [{
//	    "id": "LOAD01",
//	    "vars": {"Q": "{gridflex_generators.TSO>measurements.reactivePower.value} + {gridflex_generators.PV1>measurements.reactivePower.value}", "CONST": 100},
//	    "template": {"measurements": {"reactivePower": {"value": "{Q} / {CONST}", "quality": 1, "virtual": true, "timestamp": "{timestamp}"}},
//	                 "measurementsTimestamp": "{timestamp}"},
//	    "window": 10}]}]}
//
// # Templates
//
// Every string in vars and template may hold placeholders:
//
//	{timestamp}                             the time of the output (see below)
//	{var}                                   a variable of vars
//	{collection.id>propertyRoute|default}   property propertyRoute (dotted) of document id of
//	                                        collection (<layer>_<collection>); default is used in
//	                                        poll mode when the property is unknown
//	toISOString("{collection.id>prop}")     the property as an ISO 8601 string
//
// A string that is exactly one placeholder takes the placeholder's value
// unchanged (a number stays a number, {timestamp} is a time). A string with
// placeholders and other text is an expression of package expression (JEXL
// with JavaScript semantics, e.g. "({a>x} + {b>x}) / 100"); each placeholder
// becomes a variable of it, and a placeholder inside a quoted string literal
// is spliced into it ("'load ' + {id>name}" and "'load {id>name}'" are
// equivalent). toISOString is the expression transform toisostring, so
// `toISOString("{c.id>t}")` and the manual's `toISOString("{c.id}>t")`
// both work. Expressions are compiled once, by New; a string that does not
// compile is a configuration error naming the sensor and the field. A
// string without placeholders, and any other JSON value, is copied as is.
//
// vars are evaluated before the template, in dependency order: a var may
// use other vars (cycles are an error). The seed says "in order"; since the
// agent's strict config decoding does not keep JSON object order, the order
// is derived from the references instead, which evaluates every acyclic
// configuration the same way.
//
// The output of a sensor is one [model.Update] of document id in the
// sensor's collection: each top-level template key is set as is, except
// "measurements", whose entries are set one by one as
// "measurements.<name>", as real readings are, so that a virtual sensor
// does not erase measurements written by others.
//
// # Modes
//
// Event-driven (default): [Engine.Observe] receives every update of the
// pipeline; when one touches a property a sensor references, the sensor is
// recomputed, but only if every property it references is known and was
// updated within the last window seconds (default 10); defaults are not
// used. {timestamp} is the latest ts of the triggering updates. A sensor
// may reference the outputs of sensors defined before it; Observe feeds
// outputs back in definition order.
//
// Poll ("poll": true): [Engine.Poll], which the caller ticks (every second
// is fine), recomputes a sensor every window seconds from the latest known
// values, whatever their age; an unknown property takes its default, and
// a sensor with an unknown property without default is skipped (counted
// in [Stats]). {timestamp} is the poll time.
//
// # Settings spelling
//
// One place of the seed spells the list "virtuaisensors" (a typo in the
// deliverable; its description says "virtualsensors"). Both are accepted
// so that settings copied from the X-FLEX deployment work unchanged; a
// group giving both is an error. "xflexplatform" is accepted and ignored:
// at the edge the inputs come from the pipeline, not from the platform's API.
package vsensor
