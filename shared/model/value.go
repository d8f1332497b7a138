package model

import "encoding/json"

// Float returns v as a float64 when v is a number: any Go integer or
// floating-point type, or a json.Number (what a decoder with UseNumber
// gives) that parses as a float64. Everything else is not a number and
// gives false: nil, bool (no 0/1 coercion) and string, even when the string
// holds digits — callers that accept numeric strings parse them themselves,
// and say so. NaN and ±Inf are numbers and are returned as they are.
//
// It does not allocate, so that the reading pipeline can call it for every
// value.
func Float(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
