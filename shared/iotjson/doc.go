// Package iotjson is the protocol and provisioning model of the FIWARE IoT
// Agent JSON (seed 003, iotagent-node-lib 3.3.0) that the hub's device
// ingestion (hub/iot) and the edge agent's local devices (edge/iot) share:
//
//   - config groups and devices (Group, Device) with their checks, and
//     the compilation of a device's attributes merged with its group's
//     into a measurement transformation (Compile: object_id → name,
//     expression, skipValue, static attributes, explicitAttrs,
//     multi-entity; shared/pipeline/transform does the work);
//   - the southbound payloads: a JSON object of measures or an array of
//     them, or one measure's raw value (Measures), and their readings
//     (Compiled.Apply, with TimeInstant as the reading's time);
//   - the MQTT topics <apikey>/<deviceId>[/<token>]/attrs[/<attr>] and
//     …/cmdexe (ParseTopic, Filters);
//   - the IoT agent's errors ({"name": …, "message": …} with its status
//     codes), per-device tokens stored hashed, and per-device rate limits.
//
// Where the readings go (the hub's store, the edge's pipeline) is the
// caller's business.
package iotjson
