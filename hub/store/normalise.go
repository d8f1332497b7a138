package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// Timestamp returns t in UTC truncated to the millisecond, the precision of
// BSON dates, so that both backends return the same times.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Normalize returns a deep copy of v as backends store it: Extended JSON
// dates ({"$date": ...}), time.Time and RFC 3339 strings in date-typed
// fields (DateField) become UTC millisecond time.Time,
// Go integers and json.Number become float64 (what JSON decoding gives, so
// both backends return the same types), []map[string]any becomes []any.
// Errors wrap ErrInvalid.
func Normalize(v any) (any, error) {
	v, err := query.ConvertDates(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return normalize(v)
}

func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, nil
	case time.Time:
		return Timestamp(x), nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("%w: number %s: %v", ErrInvalid, x, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if t, ok := DateString(k, e); ok {
				out[k] = t
				continue
			}
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case []float64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	}
	// Anything else goes through JSON, as the REST layer would send it.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: value of type %T: %v", ErrInvalid, v, err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%w: value of type %T: %v", ErrInvalid, v, err)
	}
	return normalize(out)
}

// DateField reports whether the field at path (a dotted path; its last
// segment counts) is date-typed: "timestamp" (the document's, a
// measurement's), a name ending in "Timestamp" (measurementsTimestamp) or
// _updated. An RFC 3339 date-time string written there is stored as a date,
// so that /range finds a document posted as JSON with "timestamp":
// "2024-05-01T10:00:00Z", and a document read from the API (dates come out
// as RFC 3339 strings) and written back stays the same.
func DateField(path string) bool {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	return path == "timestamp" || path == FieldUpdated || (len(path) > len("Timestamp") && strings.HasSuffix(path, "Timestamp"))
}

// DateString returns v as a UTC millisecond date when path is date-typed
// (DateField) and v is an RFC 3339 date-time string (a date and a time
// with a zone: 2024-05-01T10:00:00Z, 2024-05-01T12:00:00.5+02:00).
func DateString(path string, v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok || len(s) < len("2006-01-02T15:04:05Z") || !DateField(path) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return Timestamp(t), true
}

// NormalizeUpdateValue returns the value an edge update stores at path:
// a model.Measurement (or a non-nil pointer to one) becomes {value,
// quality, timestamp}; RFC 3339 strings in date-typed fields (DateField:
// measurement timestamps, measurementsTimestamp, timestamp) become dates;
// then Normalize.
func NormalizeUpdateValue(path string, v any) (any, error) {
	switch t := v.(type) {
	case string:
		if ts, ok := DateString(path, t); ok {
			return ts, nil
		}
	case time.Time:
		return Timestamp(t), nil
	case model.Measurement, *model.Measurement:
		if m, ok := model.MeasurementOf(t); ok {
			if val, ok := scalar(m.Value); ok {
				// what Normalize makes of the map below, without walking it
				// (an edge batch is mostly measurements)
				return map[string]any{"value": val, "quality": float64(m.Quality), "timestamp": Timestamp(m.Timestamp)}, nil
			}
			v = map[string]any{"value": m.Value, "quality": float64(m.Quality), "timestamp": m.Timestamp}
		}
	case map[string]any:
		if n, ok := flatNormalized(t); ok {
			return n, nil
		}
		if strings.HasPrefix(path, model.MeasurementsPrefix) {
			if s, ok := t["timestamp"].(string); ok {
				if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
					c := make(map[string]any, len(t))
					for k, e := range t {
						c[k] = e
					}
					c["timestamp"] = ts
					v = c
				}
			}
		}
	}
	n, err := Normalize(v)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", path, err)
	}
	return n, nil
}

// scalar returns a scalar as Normalize stores it (numbers as float64); ok
// is false for other values.
func scalar(v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, true
	case float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		n, err := normalize(x)
		return n, err == nil
	}
	return nil, false
}

// flatNormalized is Normalize of a map whose values are all scalars or
// times (a measurement as JSON and the wire format decode it), without its
// walks and copies; ok is false for other maps.
func flatNormalized(m map[string]any) (map[string]any, bool) {
	if _, ok := m["$date"]; ok {
		return nil, false
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		if t, ok := DateString(k, e); ok {
			out[k] = t
			continue
		}
		if t, ok := e.(time.Time); ok {
			out[k] = Timestamp(t)
			continue
		}
		n, ok := scalar(e)
		if !ok {
			return nil, false
		}
		out[k] = n
	}
	return out, true
}
