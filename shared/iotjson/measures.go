package iotjson

import (
	"strings"
)

// Measures decodes a reading's payload into measure objects: a JSON
// object of measures or an array of them; with attr (MQTT
// …/attrs/<attr>), payload is that one measure's value, JSON or bare text.
// Errors are WRONG_SYNTAX saying what was wrong.
func Measures(payload []byte, attr string) ([]map[string]any, error) {
	if attr != "" {
		v, err := DecodeJSON(payload)
		if err != nil {
			// a bare text value, as MQTT devices send one
			v = strings.TrimSpace(string(payload))
		}
		return []map[string]any{{attr: v}}, nil
	}
	v, err := DecodeJSON(payload)
	if err != nil {
		return nil, WrongSyntax("the measurement body is not JSON: %v", err)
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return nil, WrongSyntax("the measurement object is empty")
		}
		return []map[string]any{t}, nil
	case []any:
		if len(t) == 0 {
			return nil, WrongSyntax("the measurement array is empty")
		}
		out := make([]map[string]any, 0, len(t))
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, WrongSyntax("measurement array element %d is not an object", i)
			}
			if len(m) == 0 {
				return nil, WrongSyntax("measurement array element %d is an empty object", i)
			}
			out = append(out, m)
		}
		return out, nil
	}
	kind := "null"
	switch v.(type) {
	case float64:
		kind = "number"
	case string:
		kind = "string"
	case bool:
		kind = "boolean"
	}
	return nil, WrongSyntax("the measurement body is a JSON %s, not an object of measures", kind)
}

// DecodeJSON decodes one JSON value (numbers as float64).
func DecodeJSON(b []byte) (any, error) {
	var v any
	if err := DecodeStrict(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}
