// Package history keeps the hub's measurement history in a time-series
// engine: embedded, Prometheus' TSDB (WAL, XOR-compressed chunks, compaction,
// retention by time and size, out-of-order ingestion within a window), or
// remote, any engine that takes Prometheus remote-write and answers the
// Prometheus HTTP query API (VictoriaMetrics, Mimir, Thanos, Prometheus).
//
// Data model: one series per (layer, collection, document, field) for the
// value (gridedge_value; booleans as 0 and 1; exact decimals as integers
// with a scale label, scale.go) and one for the quality (gridedge_quality),
// which holds only qualities other than good: a value without a quality
// sample is good. A string-valued measurement (a translation such as
// "COLD") is kept as state changes: a sample of gridedge_state with the
// state as a label and the quality as its value, written only when the
// state differs from the field's previous one; a state therefore costs one
// series per distinct value, which translations keep small, and nothing
// while it does not change.
//
// Writers use [Appender]; readers use [Reader], which streams series in
// (document, field) order with points [t, value, quality], optionally
// aggregated into steps.
package history

import (
	"context"
	"encoding/json"
	"iter"
	"math"
	"strconv"
	"time"
)

// Sample is one measurement to record.
type Sample struct {
	// Layer, Collection and ID name the document.
	Layer, Collection, ID string
	// Field is the dotted field path, e.g. "measurements.voltage".
	Field string
	// T is the time the value is for.
	T time.Time
	// Value is a number, a bool (kept as 0/1), a string (kept as a state
	// change) or nil (only the quality is kept).
	Value any
	// Quality is the measurement's quality code.
	Quality int
}

// AppendResult says what Append did.
type AppendResult struct {
	// Written counts samples stored (an identical sample already stored
	// counts as written: appends are idempotent).
	Written int
	// Unchanged counts string samples not stored because the state did not
	// change.
	Unchanged int
	// Refused counts samples older than the out-of-order window (or beyond
	// the retention), or with a value that conflicts with the one stored
	// for the same time.
	Refused int
	// FirstRefusal describes the first refused sample ("" when none).
	FirstRefusal string
}

// Appender records samples.
type Appender interface {
	// Append stores samples. Samples it refuses are counted in the result
	// (and in Stats), not returned as an error; an error means nothing was
	// stored.
	Append(ctx context.Context, samples []Sample) (AppendResult, error)
}

// Agg is an aggregation over a step.
type Agg string

// Aggregations.
const (
	AggAvg   Agg = "avg"
	AggMin   Agg = "min"
	AggMax   Agg = "max"
	AggSum   Agg = "sum"
	AggCount Agg = "count"
	AggFirst Agg = "first"
	AggLast  Agg = "last"
)

// ParseAgg checks an aggregation name ("" is avg).
func ParseAgg(s string) (Agg, error) {
	switch a := Agg(s); a {
	case "":
		return AggAvg, nil
	case AggAvg, AggMin, AggMax, AggSum, AggCount, AggFirst, AggLast:
		return a, nil
	}
	return "", errorf(ErrInvalid, "agg %q is not one of avg, min, max, sum, count, first, last", s)
}

// Query selects history.
type Query struct {
	// Layer and Collection name the collection.
	Layer, Collection string
	// IDs are the documents (empty: every document with history).
	IDs []string
	// Fields are the field paths (empty: every field with history).
	Fields []string
	// From and To bound the time, both inclusive; zero To means now.
	From, To time.Time
	// Step, when set, aggregates the points of each step-aligned interval
	// [k·Step, (k+1)·Step) into one point at its start, with Agg.
	Step time.Duration
	// Agg is the aggregation of a step (default avg).
	Agg Agg
	// Limit caps the points of each series (0: no limit).
	Limit int
}

// Kind tells what a point's value is.
type Kind uint8

// Point kinds.
const (
	// KindNumber: V holds the value.
	KindNumber Kind = iota
	// KindString: S holds the state.
	KindString
	// KindNull: no value, only a quality.
	KindNull
)

// Point is one historical value. It encodes in JSON as
// [timestamp (RFC 3339), value, quality].
type Point struct {
	// T is the time in milliseconds since the Unix epoch.
	T int64
	// Kind says which of V and S holds the value.
	Kind Kind
	// V is a number value.
	V float64
	// S is a string value (a state).
	S string
	// Q is the quality code.
	Q int
}

// Time returns T as a time.Time in UTC.
func (p Point) Time() time.Time { return time.UnixMilli(p.T).UTC() }

// Value returns the value as float64, string or nil.
func (p Point) Value() any {
	switch p.Kind {
	case KindString:
		return p.S
	case KindNull:
		return nil
	}
	if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
		return nil
	}
	return p.V
}

// AppendValue appends the value's text (JSON-compatible; "" for null when
// quoteString is false) to b.
func (p Point) AppendValue(b []byte, quoteString bool) []byte {
	switch p.Kind {
	case KindString:
		if quoteString {
			return strconv.AppendQuote(b, p.S)
		}
		return append(b, p.S...)
	case KindNull:
		if quoteString {
			return append(b, "null"...)
		}
		return b
	}
	if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
		if quoteString {
			return append(b, "null"...)
		}
		return b
	}
	return strconv.AppendFloat(b, p.V, 'g', -1, 64)
}

// MarshalJSON writes [timestamp, value, quality].
func (p Point) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, '[', '"')
	b = p.Time().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"', ',')
	if p.Kind == KindString {
		s, err := json.Marshal(p.S)
		if err != nil {
			return nil, err
		}
		b = append(b, s...)
	} else {
		b = p.AppendValue(b, true)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(p.Q), 10)
	return append(b, ']'), nil
}

// Series is the history of one field of one document.
type Series struct {
	// ID is the document's _id.
	ID string
	// Field is the field path.
	Field string
	// Points yields the points in time order. It may be ranged over once,
	// and only inside the callback of Select that received the series; an
	// error met while reading is returned by Select.
	Points iter.Seq[Point]
}

// Reader reads history.
type Reader interface {
	// Select calls fn with each series matching q, in (ID, Field) order,
	// and stops at fn's first error, which it returns.
	Select(ctx context.Context, q Query, fn func(Series) error) error
	// Fields returns the sorted field paths with history of one document
	// between from and to.
	Fields(ctx context.Context, layer, collection, id string, from, to time.Time) ([]string, error)
}

// Stats count what the history store did.
type Stats struct {
	// Written counts samples stored.
	Written uint64 `json:"written"`
	// Unchanged counts string samples dropped because the state did not change.
	Unchanged uint64 `json:"unchanged"`
	// Refused counts samples refused (older than the out-of-order window,
	// or conflicting with a stored value at the same time).
	Refused uint64 `json:"refused"`
}

// Store is a history backend.
type Store interface {
	Appender
	Reader
	// Stats returns the counters.
	Stats() Stats
	// Close flushes and releases the store.
	Close() error
}
