// Package vsensors runs the X-FLEX virtual sensors (seed 000, section
// 3.2.5) at the hub, on the engine the edge agent runs
// (shared/pipeline/vsensor), with the seed's settings document unchanged
// (sensors, virtualsensors, vars, template, {layer_collection.ID>path|default}
// references, toISOString, window, poll).
//
// Inputs come from the store's change feed,
// <domain>.storage.changed.<layer>.<collection> of the input collections: an
// event for a referenced document makes the service read the document from
// the store and feed the changed fields to the engine. Poll-mode sensors
// ("poll": true) are computed every window from the latest stored values
// (read again from the store when they changed), whatever their age, with
// the references' defaults.
//
// Outputs are written through the store (so they reach history, DDP and
// REST): the measurements of an output document are set one by one
// ("measurements.<name>", as edge readings are), each with "virtual": true.
// An output document that does not exist yet is created.
//
// When an output cannot be computed, the others still are: an input that
// does not exist in the store (in poll mode only when its reference has no
// default) and an evaluation error mark the output's measurements with
// quality 0 (bad, once, until the next good output); in event mode an
// input older than the window yields no output (the seed's rule), counted
// as stale.
//
// Several hubs: events are received in a NATS queue group, so each one is
// handled by one hub; before computing, the hub reads from the store the
// other inputs of the sensors the event triggers when their _updated
// differs from what it last saw (so it does not matter which hub saw the
// earlier events); the freshness window is judged on the documents'
// _updated times. Poll-mode sensors are computed by one hub, the holder of
// a lease in a JetStream key-value bucket, renewed every tick.
//
// Loops (a sensor whose inputs are, directly or through other sensors, its
// own output) are refused when the settings are loaded; a sensor may use
// the output of another otherwise. Change events of output documents are
// not fed back (the engine feeds each output to later sensors itself).
package vsensors
