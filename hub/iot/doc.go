// Package iot lets devices push their own readings to the hub, as the
// FIWARE IoT Agent JSON does (seed 003) and with per-device tokens in the
// Smart Citizen way (seed 004):
//
//   - a provisioning API compatible with iotagent-node-lib 3.3.0 under
//     /iot: config groups (/iot/services), devices (/iot/devices) and
//     /iot/about, with the library's status codes and error bodies
//     ({"name": "DEVICE_NOT_FOUND", "message": …});
//   - the southbound HTTP binding POST /iot/json?k=<apikey>&i=<deviceId>
//     with a JSON measurement object (or an array of them), and the MQTT
//     binding <apikey>/<deviceId>/attrs[/<attr>], …/cmd and …/cmdexe;
//   - per-device tokens, stored hashed, rotated and revoked one device at a
//     time.
//
// A reading goes through the same stages as a Modbus reading at the edge:
// the measurement transformation of shared/pipeline/transform (the
// device's and its group's attributes: object_id, expression, skipValue,
// static attributes, explicitAttrs, multi-entity), the bad-data rules of
// shared/pipeline/baddata, non-finite values made bad, then one
// store.ApplyBatch per group of concurrent readings under a pseudo-edge
// (default "iot"), so the documents, their change events and the history
// (history.Recorder wraps the store) are written exactly as edge batches
// are. docs/ingestion.md describes the mapping of FIWARE services and
// service paths onto layers and collections.
package iot
