package store

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// Point is one historical value of one field of one document.
type Point struct {
	// ID is the document's _id.
	ID string `json:"_id"`
	// Field is the dotted field path.
	Field string `json:"field"`
	// TS is the time the value is for.
	TS time.Time `json:"timestamp"`
	// Value is the value written (for a measurement, its {value, quality, timestamp}).
	Value any `json:"value"`
}

// HistoryQuery selects history points of one collection.
type HistoryQuery struct {
	// ID restricts to one document ("" = all).
	ID string
	// Field restricts to one field path ("" = all).
	Field string
	// From and To bound TS (inclusive); zero means unbounded.
	From, To time.Time
	// Limit caps the number returned (0: no limit).
	Limit int
}

// MeasurementPoints returns the history points that a REST write of doc
// records: one per measurement (measurements.<name>) among paths (the
// changed paths of an update; nil for an insert, meaning every measurement
// of doc), valued with the measurement's object and timed by its
// "timestamp" when that is a date, else by now. Other fields are not
// historised by REST writes (edge updates through ApplyBatch historise
// every field they set).
func MeasurementPoints(id string, doc Document, paths []string, now time.Time) []Point {
	ms, _ := doc["measurements"].(map[string]any)
	if len(ms) == 0 {
		return nil
	}
	names := map[string]bool{}
	if paths == nil {
		for k := range ms {
			names[k] = true
		}
	}
	for _, p := range paths {
		switch {
		case p == "measurements":
			for k := range ms {
				names[k] = true
			}
		case strings.HasPrefix(p, "measurements."):
			name, _, _ := strings.Cut(strings.TrimPrefix(p, "measurements."), ".")
			names[name] = true
		}
	}
	pts := make([]Point, 0, len(names))
	for _, name := range slices.Sorted(maps.Keys(names)) {
		v, ok := ms[name]
		if !ok {
			continue
		}
		ts := now
		if m, ok := v.(map[string]any); ok {
			if t, ok := m["timestamp"].(time.Time); ok {
				ts = t
			}
		}
		pts = append(pts, Point{ID: id, Field: "measurements." + name, TS: Timestamp(ts), Value: v})
	}
	return pts
}

// UpdateTS is the history time of an edge update's value: the measurement's
// timestamp when val (normalised) has one, else the update's TS.
func UpdateTS(u *model.Update, val any) time.Time {
	if m, ok := val.(map[string]any); ok {
		if t, ok := m["timestamp"].(time.Time); ok {
			return t
		}
	}
	return Timestamp(u.TS)
}
