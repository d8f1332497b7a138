// Package transform maps readings to document updates the way the FIWARE
// IoT agents map measures to entity attributes (seed 003, "Entity
// attributes", "Measurement transformation", "Multientity support",
// "Explicitly defined attributes"), with the provisioning API's field
// names, so that device and config-group definitions carry over.
//
// GridEdge's entity is a document: entity_type is its collection, written
// "<layer>_<collection>" (a type without '_', such as "WaterMeter", is a
// collection of the device's layer), and entity_name is its _id. A reading
// is a map of measure names (object_id: Modbus variable names, or the keys
// of a JSON measurement object) to values, plus the device's default
// document; the result is one [model.Update] per document touched, each
// attribute written as measurements.<name> = {value, quality, timestamp}.
//
// # Rules
//
//   - A config group ([Group]) applies to every device whose default
//     document is in its entity_type collection; a device ([Device]) to the
//     reading whose default document id is its device_id. Device attributes
//     come first and override group attributes with the same object_id (or
//     name); the device's explicitAttrs, when set, overrides the group's.
//   - An attribute takes the measure named by its object_id (default: its
//     name). With an expression, the expression runs only when every
//     variable it uses is present in the context — the reading's measures
//     by name, the static attributes, and id and type (the device document's
//     id and collection); otherwise the measure's own value is used, and
//     without it the attribute is not written (seed: "Measurement
//     transformation execution"). JEXL has no null literal: `null` is a
//     variable like any other (undefined), so an expression that mentions
//     it never runs; use 'null'|jsonparse. A result equal to skipValue (default
//     null, which undefined also matches) is not written. An expression
//     that fails at run time drops the attribute and is counted in Stats.
//   - entity_name/entity_type on an attribute send it to another document
//     (multi-entity); entity_type defaults to the device's collection.
//     entity_name may be an expression: if it compiles and yields a
//     non-empty string or a number, that is the id, otherwise the text
//     itself ("WeatherStation1", "urn:ngsi-ld:Device:WaterMeterSoria01").
//   - Measures no attribute takes go to the device's document under their
//     own name, unless explicitAttrs says otherwise.
//   - Static attributes are written to the device's document, as top-level
//     fields (not measurements), with every update, as the IoT agents send
//     them; a bad-data range rule can read nominal values from them.
//   - explicitAttrs: false (default) writes everything; true only the
//     attributes and static attributes defined; a JSON array, or a string
//     holding an expression array such as "['attr1',{object_id:'v2'}]",
//     only the attributes named in it (by name, or by object_id with the
//     object form); any other string is an expression evaluated on each
//     reading, whose result — true (everything), false (defined only) or an
//     array — decides as above, as the seed's case 5 describes.
//   - type and metadata are accepted for compatibility and not used:
//     values keep the type the reading or the expression gave them.
package transform
