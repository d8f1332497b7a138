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
// dates ({"$date": ...}) and time.Time become UTC millisecond time.Time,
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

// NormalizeUpdateValue returns the value an edge update stores at path:
// a model.Measurement (or a non-nil pointer to one) becomes {value,
// quality, timestamp}; measurement timestamps and measurementsTimestamp
// given as RFC 3339 strings become dates; then Normalize.
func NormalizeUpdateValue(path string, v any) (any, error) {
	switch t := v.(type) {
	case string:
		if path == model.MeasurementsTimestampField {
			if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return Timestamp(ts), nil
			}
		}
	case model.Measurement, *model.Measurement:
		if m, ok := model.MeasurementOf(t); ok {
			v = map[string]any{"value": m.Value, "quality": float64(m.Quality), "timestamp": m.Timestamp}
		}
	case map[string]any:
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
