package opcua

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/gridedge/gridedge/shared/model"
)

// Quality maps an OPC-UA status code to a measurement quality by its
// severity (the two top bits, OPC-UA Part 4 7.39): Good is good, Uncertain
// is suspect, Bad is bad.
func Quality(sc ua.StatusCode) int {
	switch uint32(sc) >> 30 {
	case 0:
		return model.QualityGood
	case 1:
		return model.QualitySuspect
	default:
		return model.QualityBad
	}
}

// MeasurementOf turns a data value into a measurement: the value converted
// by Value, the quality by Quality, the source timestamp (else the server
// timestamp, else now) in UTC. A bad value keeps last as its value.
func MeasurementOf(dv *ua.DataValue, last any, now time.Time) model.Measurement {
	m := model.Measurement{Quality: model.QualityBad, Timestamp: now.UTC()}
	if dv == nil {
		m.Value = last
		return m
	}
	m.Quality = Quality(dv.Status)
	switch {
	case !dv.SourceTimestamp.IsZero():
		m.Timestamp = dv.SourceTimestamp.UTC()
	case !dv.ServerTimestamp.IsZero():
		m.Timestamp = dv.ServerTimestamp.UTC()
	}
	if dv.Value != nil {
		m.Value = Value(dv.Value.Value())
	}
	if m.Value == nil && m.Quality == model.QualityBad {
		m.Value = last
	}
	return m
}

// Value converts a variant's Go value into a measurement value the wire
// encoding and the store keep: numbers stay numbers (float32 as the
// float64 of its shortest decimal), DateTime a UTC time, LocalizedText its
// text, QualifiedName its name, NodeID, ExpandedNodeID and GUID their
// string form, ByteString base64 (as JSON), StatusCode its number,
// arrays and matrices []any of converted elements (NaN as null), structures (extension
// objects) their decoded fields as JSON objects.
func Value(v any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case bool, string, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float64:
		return t
	case float32:
		f := float64(t)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return f
		}
		g, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
		return g
	case time.Time:
		return t.UTC()
	case *ua.LocalizedText:
		if t == nil {
			return nil
		}
		return t.Text
	case *ua.QualifiedName:
		if t == nil {
			return nil
		}
		return t.Name
	case *ua.NodeID:
		if t == nil {
			return nil
		}
		return t.String()
	case *ua.ExpandedNodeID:
		if t == nil {
			return nil
		}
		return t.String()
	case *ua.GUID:
		if t == nil {
			return nil
		}
		return t.String()
	case []byte:
		return t
	case ua.StatusCode:
		return uint32(t)
	case *ua.Variant:
		if t == nil {
			return nil
		}
		return Value(t.Value())
	case *ua.DataValue:
		if t == nil || t.Value == nil {
			return nil
		}
		return Value(t.Value.Value())
	case *ua.ExtensionObject:
		if t == nil {
			return nil
		}
		return jsonValue(t.Value)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			e := Value(rv.Index(i).Interface())
			// JSON has no NaN: inside an array it becomes null (a scalar
			// NaN is made null with bad quality by the pipeline)
			if f, ok := e.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				e = nil
			}
			out[i] = e
		}
		return out
	}
	return jsonValue(v)
}

// jsonValue is v as a JSON object, array or scalar (nil when v cannot be
// encoded).
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}
