package model

import "time"

// MeasurementOf reads a measurement from a value in any of the forms one
// travels in:
//
//   - a Measurement or a non-nil *Measurement (updates built at the edge);
//   - a map[string]any with a "value" key, as JSON decoding and the hub's
//     stores give it: "quality" may be any number Float accepts (JSON gives
//     float64, Go code int) and defaults to QualityGood when absent or not a
//     number; "timestamp" may be a time.Time (stores) or an RFC 3339 string
//     (JSON) and is left zero when absent or unparsable. Other keys are
//     ignored.
//
// Anything else, including a map without "value", is not a measurement and
// gives false. It does not allocate for a Measurement, a *Measurement or a
// map with a time.Time timestamp.
func MeasurementOf(v any) (Measurement, bool) {
	switch t := v.(type) {
	case Measurement:
		return t, true
	case *Measurement:
		if t == nil {
			return Measurement{}, false
		}
		return *t, true
	case map[string]any:
		val, ok := t["value"]
		if !ok {
			return Measurement{}, false
		}
		m := Measurement{Value: val, Quality: QualityGood}
		if q, ok := Float(t["quality"]); ok {
			m.Quality = int(q)
		}
		switch ts := t["timestamp"].(type) {
		case time.Time:
			m.Timestamp = ts
		case string:
			m.Timestamp, _ = time.Parse(time.RFC3339Nano, ts)
		}
		return m, true
	}
	return Measurement{}, false
}
