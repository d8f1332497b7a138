package history

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// Metric and label names of the series.
const (
	MetricValue   = "gridedge_value"
	MetricQuality = "gridedge_quality"
	MetricState   = "gridedge_state"

	LabelLayer      = "layer"
	LabelCollection = "collection"
	LabelID         = "id"
	LabelField      = "field"
	LabelState      = "state"
	// LabelScale is the decimal digits of a value series stored as
	// integers (scale.go).
	LabelScale = "scale"
)

// sampleKind classifies a sample's value.
type sampleKind uint8

const (
	sampleNumber sampleKind = iota
	sampleString
	sampleNull
	sampleUnsupported
)

// numeric converts a sample's value: numbers and bools to float64 (bool
// as 0/1), strings as states, nil as null; maps, lists and other values are
// not history.
func numeric(v any) (float64, string, sampleKind) {
	switch t := v.(type) {
	case nil:
		return 0, "", sampleNull
	case bool:
		if t {
			return 1, "", sampleNumber
		}
		return 0, "", sampleNumber
	case string:
		return 0, t, sampleString
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return 0, string(t), sampleString
		}
		return f, "", sampleNumber
	}
	if f, ok := model.Float(v); ok {
		if math.IsNaN(f) {
			return 0, "", sampleNull
		}
		return f, "", sampleNumber
	}
	return 0, "", sampleUnsupported
}

// SamplesOf returns the samples of a document's measurements: one per
// measurement named in fields ("measurements.<name>" or a path below it;
// nil: every measurement), valued and timed by the measurement (its
// timestamp, else now).
func SamplesOf(layer, collection, id string, doc map[string]any, fields []string, now time.Time) []Sample {
	ms, _ := doc["measurements"].(map[string]any)
	if len(ms) == 0 {
		return nil
	}
	add := func(out []Sample, name string) []Sample {
		m, ok := model.MeasurementOf(ms[name])
		if !ok {
			return out
		}
		ts := m.Timestamp
		if ts.IsZero() {
			ts = now
		}
		return append(out, Sample{Layer: layer, Collection: collection, ID: id, Field: model.MeasurementsPrefix + name,
			T: ts, Value: m.Value, Quality: m.Quality})
	}
	var out []Sample
	if fields == nil {
		for name := range ms {
			out = add(out, name)
		}
		return out
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if f == "measurements" {
			for name := range ms {
				if !seen[name] {
					seen[name] = true
					out = add(out, name)
				}
			}
			continue
		}
		rest, ok := strings.CutPrefix(f, model.MeasurementsPrefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if !seen[name] {
			seen[name] = true
			out = add(out, name)
		}
	}
	return out
}

// SamplesOfUpdate returns the samples of an edge update: one per field of
// u.Set holding a measurement, timed by the measurement (else u.TS).
func SamplesOfUpdate(u *model.Update, out []Sample) []Sample {
	for path, v := range u.Set {
		m, ok := model.MeasurementOf(v)
		if !ok {
			continue
		}
		ts := m.Timestamp
		if ts.IsZero() {
			ts = u.TS
		}
		out = append(out, Sample{Layer: u.Layer, Collection: u.Collection, ID: u.ID, Field: path, T: ts, Value: m.Value, Quality: m.Quality})
	}
	return out
}
