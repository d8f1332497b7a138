// Package baddata detects and handles bad data (seed 000, section 3.1.4):
// rules, attached to sources (documents), collections and fields, that are
// assessed on every reading before it enters the buffer, with actions such
// as discard, replace, flag and raise an incident.
//
// A rule matches measurements (the "measurements.<name>" fields of a
// [model.Update], as [model.Measurement] values or {value, quality,
// timestamp} objects) by collection ("<layer>_<collection>"), document id
// (at the edge a source — a slave — writes one document) and measurement
// name; each list accepts path.Match globs, and an empty list matches all.
//
//	{"id": "voltage-range", "match": {"collections": ["gridflex_meters"], "fields": ["voltage*"]},
//	 "detect": {"type": "range", "minField": "nominalVoltage", "minFactor": 0.9, "maxField": "nominalVoltage", "maxFactor": 1.1},
//	 "actions": [{"type": "replace", "with": "last"}, {"type": "incident", "incidentType": "OVERVOLTAGE", "cooldown": "5m"}]}
//
// # Detectors
//
//	range       value < min or value > max. A limit may come from a field of the
//	            document (minField/maxField, e.g. a static attribute "nominalVoltage"
//	            written by the transform stage), times minFactor/maxFactor (default 1):
//	            the engine remembers the latest value of such fields from the updates
//	            it sees, and asks Options.Field for documents it has not seen. A limit
//	            that is unknown is not checked.
//	rate        a change from the last good value larger than maxDelta, or faster than
//	            maxRate per second. The first reading of a level shift is flagged; the
//	            next one is accepted if it agrees (within the limits) with the flagged
//	            one, so a real step change does not lock the field out, while a spike's
//	            return to normal is compared with the last good value and accepted.
//	flatline    the value has not changed by more than tolerance for count readings
//	            (including this one) or for duration.
//	stale       no reading of a field the engine has seen within after; found by
//	            Tick, not by Process, and reported once per silence.
//	nan         the value is NaN or ±Inf.
//	timestamp   the reading's timestamp is more than maxFuture ahead of now or more
//	            than maxPast behind it.
//	duplicate   the timestamp equals the previous reading's (with outOfOrder, an
//	            older timestamp too).
//	expression  condition, an expression of package expression, is truthy. Its
//	            context: value, quality, timestamp (ISO string), previous (previous
//	            reading's value), previousTimestamp, dt (seconds since it), lastGood,
//	            field, document, collection. A condition using another variable is
//	            rejected at load.
//
// Detectors that need a number skip values that are not numbers.
//
// # Actions
//
// A rule has one or more actions; they combine, except that discard,
// replace and flag exclude each other.
//
//	discard     the measurement is removed from the update (an update left with no
//	            measurement is dropped).
//	replace     the value is replaced and its quality set to model.QualitySubstituted:
//	            with "constant" (value), "last" (the last good value), "hold" (the last
//	            value emitted for the field, substituted or not) or "interpolate".
//	            Without a last value, "last" and "hold" fall back to value if given and
//	            discard otherwise.
//	            Interpolate withholds the bad reading; when the next good reading of the
//	            field arrives, Process emits, just before that reading's update, one
//	            update per withheld reading that sets only measurements.<name> to the
//	            value linearly interpolated between the last good reading before and
//	            the new one, at the withheld timestamp, with quality substituted (it
//	            does not set measurementsTimestamp, and the current reading follows,
//	            so the document ends with the current value while the history gets
//	            the backfill). At most maxPending readings (default 100) are
//	            withheld per field; Tick drops those older than maxGap (default 1h).
//	            Non-numeric values fall back to "hold".
//	flag        the quality is set to quality (default model.QualitySuspect).
//	incident    an update of layer "incidents", collection "items" (seed 3.2.4), with
//	            type (incidentType, default "BAD_DATA"), details {rule, detector,
//	            reason, layer, collection, document, field, value, timestamp} and
//	            description; at most one per rule and field every cooldown.
//
// For stale, replace ("constant", "last" or "hold") and flag emit an update
// of the silent measurement at the tick's time; discard and interpolate do
// not apply.
//
// # Order, state and reloads
//
// Rules run in the given order for each measurement; the first rule that
// discards or replaces ends the chain for that measurement (later rules see
// no value), flag and incident do not. The engine keeps, per document
// field, the previous reading, the last good reading (no rule fired) and
// the last emitted value; this state survives [Engine.Reload], which
// compiles the new rules and swaps them atomically, or returns an error
// naming each bad rule by index and id and keeps the old ones. [Engine.Stats]
// counts every detection and action per rule id.
package baddata
