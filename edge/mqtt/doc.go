// Package mqtt is the northbound MQTT side of the X-FLEX Modbus plugin
// (seed 000, sections 3.3.5.3 and 3.3.5.4), over MQTT v5 with
// github.com/eclipse/paho.golang (autopaho reconnects with backoff).
//
// A [Bridge] does two things for the slaves of a SETTINGS document:
//
//   - Publications. After every poll cycle the agent hands the slave's
//     [model.Update] to [Bridge.Publish]; for each of the slave's
//     mqttPublications the bridge renders mqttMessages[messageBase] merged with
//     messageExtras and publishes it on the publication's topic (QoS
//     [Options.QoS], default 1; retain [Options.Retain], default false).
//     Publish never blocks: messages wait in a bounded queue and, when it is
//     full, the oldest is dropped and counted ([Stats.Dropped]).
//
//   - Writes. Messages on a slave's mqttSubscriptions topics are JSON objects
//     naming variables of the slave's map, e.g. {"temperature": 21} or
//     {"mode": "FAN"}. Every variable of a message is checked ([CheckWrite])
//     and rate-limited ([Options.WriteLimits]) before anything is written;
//     if one is refused, none is written. Writes
//     go through a [Writer]; [DeviceWriter] is the Modbus one: it reads the
//     current registers, writes (merging partial registers), reads them back
//     and verifies them. Every attempt is recorded in the audit trail
//     ([Bridge.AuditLog], [Options.AuditFile]).
//
// # Rendering templates
//
// A template is a JSON object. A string value that is exactly "_NAME_", where
// NAME is a variable of the slave's map, becomes the variable's value with its
// JSON type (a number stays a number, a bool a bool, a translation label a
// string); "_DATE_" becomes the update's timestamp in ISO 8601 with
// milliseconds in UTC, as JavaScript's Date.toISOString writes it
// ("2021-07-28T05:48:17.103Z"). A placeholder inside a longer string
// ("T=_temperature_ C") is replaced textually by the value's JSON text (a
// string label without quotes). Nested objects and arrays are rendered too,
// object keys are not. messageExtras are rendered the same way and then
// replace or add top-level fields. A variable the bridge has not seen yet,
// or whose last reading has a bad quality (device unreachable), renders as
// null (as "null" inside a longer string); so do NaN and infinite floats,
// which JSON cannot carry. Strings between underscores that do not name a
// variable (or DATE) are left as they are. The bridge keeps the last value of
// every variable of a slave, so a template stays complete when the poller
// leaves out a variable that moved less than its deadband.
//
// # Write commands
//
// A message on a subscribed topic is a JSON object whose keys are variable
// names of the slave's map. Numbers are taken exactly (64-bit integers keep
// every digit). A value is refused, and the whole message with it, when:
//
//   - the variable is not in the slave's map ([ErrUnknownVariable]);
//   - it lives in a read-only table, input or discrete ([ErrReadOnly]);
//   - its map entry does not say "writable": true ([ErrNotWritable]): a
//     variable is read-only unless marked, whatever its table;
//   - it holds a number (a holding register of a numeric datatype, see
//     settings.Variable.NeedsWriteBounds) and its entry lacks "min" or
//     "max" ([ErrNoBounds]; settings.Load already refuses such maps, naming
//     the field);
//   - the engineering value is outside the entry's "min"/"max" ([ErrOutOfBounds]);
//   - the datatype cannot hold it, it is not an integer for an integer type,
//     a string is not one of the translation labels, or its JSON type does not
//     fit the variable (the codec's ErrRange, ErrNotIntegral, ErrUnknownLabel,
//     ErrValueType, ErrDatatype).
//
// A message whose variables all pass is then held to the write rate limits
// ([Options.WriteLimits]): per variable of a slave (default 1 write a
// second, burst 5) and per bus, the slaves sharing an ip and port or a
// serialPort (default 10 a second, burst 20). A write beyond them is
// refused at once, not delayed ([ErrRateLimited]), so a flood of commands
// cannot keep the bus from the pollers although writes go before polls;
// refused writes take no token.
//
// A payload that is not a JSON object of variables is refused as a whole
// ([ErrBadMessage]). The variables of an accepted message are written in the
// order the message gives them; if one write fails on the device, the ones
// after it are not attempted ([ErrSkipped]).
//
// # Error topic
//
// Every variable of a message that was not written is reported on
// "<topic>/error", where <topic> is the topic the message came on, as one JSON
// object per variable:
//
//	{"topic":"SENSOR_ABC/THERMOSTAT","variable":"temperature","value":900,
//	 "error":"temperature: value 900 is above max 30: value out of bounds",
//	 "time":"2024-05-01T10:00:00.000Z"}
//
// topic is the command's topic, variable the variable name ("" when the
// payload could not be parsed), value the value as sent (the raw payload as a
// string when it could not be parsed), error the reason, time when the
// command was handled. The variables of a refused message that were fine
// themselves are reported too (with [ErrMessageRefused]), so a consumer
// knows that nothing of the message was written. The error suffix is
// [Options.ErrorSuffix] ("/error" by default). Messages the bridge itself
// published are not taken as commands: subscriptions set MQTT v5 No Local,
// and messages on topics ending in the error suffix or on one of the
// slaves' publication topics are ignored.
//
// # Audit trail
//
// Every write attempt, refused ones included, becomes an [AuditEntry] whose
// Error says why it was refused or failed, and is counted in [Stats]
// (Refused, of which RateLimited; Writes; Failed): logged
// with slog at Info, kept in a ring of the last [Options.AuditSize] entries,
// and appended as one JSON line to [Options.AuditFile] when it is set.
package mqtt
