package bolt

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// Index key encoding. Each value becomes a self-delimiting component whose
// bytes sort like MongoDB's BSON order (null/missing < numbers < strings <
// booleans < dates; an array or object at an indexed path makes the index
// "multikey", see keyMultikey). A descending field's component has every byte inverted;
// since components are prefix-free, inverting reverses their order. An
// entry's key is the components of its fields followed by the document id;
// its value is the id.
const (
	keyNull   = 0x05
	keyNumber = 0x10
	keyString = 0x20
	keyBool   = 0x40
	keyDate   = 0x50
	// keyMultikey prefixes the entry of a document that has an array at an
	// indexed path: such an index is not used by the planner (MongoDB's
	// multikey semantics are not implemented), but stays maintained.
	keyMultikey = 0xFF
)

// appendNumber appends a number component: 8 bytes that sort like the
// float64 (NaN first, -0 as 0).
func appendNumber(b []byte, f float64) []byte {
	b = append(b, keyNumber)
	if math.IsNaN(f) {
		return append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	if f == 0 {
		f = 0 // -0
	}
	bits := math.Float64bits(f)
	if bits&(1<<63) == 0 {
		bits ^= 1 << 63
	} else {
		bits = ^bits
	}
	return binary.BigEndian.AppendUint64(b, bits)
}

// appendEscaped appends s with 0x00 escaped as 0x00 0xFF, so that the
// terminator 0x00 0x00 sorts before any continuation.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0, 0xFF)
		} else {
			b = append(b, s[i])
		}
	}
	return b
}

// appendComponent appends the component of a scalar value; ok is false
// for an array (the caller marks the entry multikey).
func appendComponent(b []byte, v any) (out []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return append(b, keyNull), true
	case float64:
		return appendNumber(b, x), true
	case float32:
		return appendNumber(b, float64(x)), true
	case int:
		return appendNumber(b, float64(x)), true
	case int64:
		return appendNumber(b, float64(x)), true
	case int32:
		return appendNumber(b, float64(x)), true
	case json.Number:
		f, _ := x.Float64()
		return appendNumber(b, f), true
	case string:
		b = append(b, keyString)
		return append(appendEscaped(b, x), 0, 0), true
	case bool:
		if x {
			return append(b, keyBool, 1), true
		}
		return append(b, keyBool, 0), true
	case time.Time:
		b = append(b, keyDate)
		return binary.BigEndian.AppendUint64(b, uint64(x.UnixMilli())^(1<<63)), true
	default:
		// arrays and objects: the entry is marked multikey (objects do not
		// sort in the index as MongoDB sorts them)
		return b, false
	}
}

// invert flips the bytes of b[from:] (a descending field's component).
func invert(b []byte, from int) {
	for i := from; i < len(b); i++ {
		b[i] = ^b[i]
	}
}

// lookupPath returns the value at a dotted path and whether it exists;
// array reports an array on the way, or an array or object at the end.
func lookupPath(doc map[string]any, path string) (v any, exists, array bool) {
	var cur any = doc
	for seg := range strings.SplitSeq(path, ".") {
		switch m := cur.(type) {
		case map[string]any:
			cur, exists = m[seg]
			if !exists {
				return nil, false, false
			}
		case []any:
			return nil, false, true
		default:
			return nil, false, false
		}
	}
	switch cur.(type) {
	case []any, map[string]any:
		return cur, true, true
	}
	return cur, true, false
}

// prefixEnd returns the smallest key greater than every key with prefix p
// (nil: none, p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
