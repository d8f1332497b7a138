// Package iot takes the readings of local devices that push IoT Agent JSON
// (seed 003) to the edge agent, with per-device tokens in the Smart Citizen
// way (seed 004): POST /iot/json?k=<apikey>&i=<deviceId> on a local HTTP
// listener (off by default; TLS optional), and <apikey>/<deviceId>/attrs
// [/<attr>] and …/cmdexe on an MQTT broker (by default the one the
// agent's MQTT bridge uses).
//
// The config groups and devices come from the agent config's devices
// section, in the IoT agent's JSON shape; there is no provisioning API at
// the edge. The protocol and the provisioning model are shared with the
// hub's device ingestion (shared/iotjson): the device's and its group's
// attributes (object_id, expression, skipValue, static attributes,
// explicitAttrs, multi-entity) turn a measurement object into document
// updates, which go to a Sink: the agent's own pipeline, the path Modbus
// and OPC-UA readings take (transformation, bad-data rules, virtual
// sensors, buffer, forwarding to the hub).
package iot
