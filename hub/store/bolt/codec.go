package bolt

import (
	"encoding/json"
	"fmt"
	"time"
)

// encodeValue encodes v as JSON with every time.Time as {"$date": RFC 3339}.
func encodeValue(v any) ([]byte, error) {
	data, err := json.Marshal(wrapDates(v))
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return data, nil
}

func wrapDates(v any) any {
	switch t := v.(type) {
	case time.Time:
		return map[string]any{"$date": t.UTC().Format(time.RFC3339Nano)}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = wrapDates(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = wrapDates(e)
		}
		return out
	}
	return v
}

func decodeValue(data []byte) (any, error) {
	if v, err := fastDecode(data); err == nil {
		return v, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode stored value: %w", err)
	}
	return unwrapDates(v), nil
}

func decodeDoc(data []byte) (map[string]any, error) {
	v, err := decodeValue(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode stored document: not an object")
	}
	return m, nil
}

func unwrapDates(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			if s, ok := t["$date"].(string); ok {
				if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
					return ts
				}
			}
		}
		for k, e := range t {
			t[k] = unwrapDates(e)
		}
	case []any:
		for i, e := range t {
			t[i] = unwrapDates(e)
		}
	}
	return v
}
