// Package wire is the compact binary encoding of document updates that the
// edge agent buffers on disk and sends to the hub, and of the batches that
// carry them. It exists because the JSON encoding took ~148 bytes of disk per
// reading; this one takes a few bytes per reading, so a long hub outage fits
// in the edge's buffer.
//
// The encoding is lossless with respect to what the hub saw before: decoding
// an encoded update gives exactly the model.Update that JSON-decoding its
// JSON encoding gives (numbers as float64, measurements and other objects as
// map[string]any, times inside Set as RFC 3339 strings, TS as a time.Time).
// Whatever JSON could not encode (NaN, ±Inf, years outside 0–9999, zone
// offsets of a day or more) this encoding refuses too; callers run
// model.ReplaceNonFinite first.
//
// # Update
//
// Strings that repeat in every update (layer, collection, id and the Set
// keys) are references into a dictionary (see [Dict]): uvarint ids assigned
// by the encoder's owner (the edge buffer persists them) and sent along with
// each batch. One encoded update is:
//
//	version byte (1)
//	uvarint layer id, uvarint collection id, uvarint id id
//	time TS (absolute form, below)
//	uvarint n+1 (0: Set is nil), then n times: uvarint key id, header byte, payload
//
// A plain value's header byte is its kind (high bit clear):
//
//	0 nil, 1 false, 2 true
//	3 integer: zigzag varint; also every integral float64 of magnitude up to 2^53
//	4 float32-exact: 4 bytes little-endian float32 bits; a float64 v is stored
//	  so when the float64 nearest the shortest decimal of float32(v) is v, which
//	  is the value every float32 register decodes to
//	5 float64: 8 bytes little-endian
//	6 string: uvarint length, UTF-8 bytes
//	7 JSON: uvarint length, the JSON encoding (maps, slices, anything else)
//	8 time: relative form (below)
//	9 time equal to TS (measurementsTimestamp), no payload
//
// A model.Measurement's header byte has the high bit set:
//
//	bit 7 = 1, bits 5–6 quality 0–3, bit 4 timestamp equal to TS,
//	bit 3 quality escaped, bits 0–2 value kind 0–6, or 7: a plain header byte follows
//
// and its payload is: the quality as a zigzag varint when escaped, the
// timestamp in relative form unless it equals TS, then the value's payload.
//
// Times: the absolute form is a zigzag varint of Unix seconds, a uvarint of
// nanoseconds<<1 | zoned, and when zoned a zigzag varint of the zone offset
// in minutes (UTC is not zoned). The relative form is a uvarint h: when h is
// even, the time has TS's zone and lies zigzag(h>>1) nanoseconds from TS;
// h = 1 is followed by the absolute form.
//
// # Batch
//
//	magic 0xC7 'G' 'W', version byte (1)
//	uvarint length, edge id
//	uvarint seq_first, uvarint seq_last
//	uvarint n, then n times: uvarint id, uvarint length, string (the dictionary entries the updates use)
//	uvarint n, then n times: uvarint length, encoded update (exactly as buffered)
//
// A JSON batch starts with '{' and a binary one with the magic, so a reader
// can accept both (see [IsBatch]).
package wire
