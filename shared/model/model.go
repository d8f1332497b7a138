// Package model defines the data that flows from edge to hub: measurements,
// document updates and edge batches (see DESIGN.md, "Data model").
//
// A reading is decoded once at the edge and becomes an [Update]; the same
// update is buffered, sent in a [Batch], applied by the hub and broadcast.
package model

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Quality codes carried by every measurement. X-FLEX documents use 1 for a
// good value; the other codes are GridEdge's and are documented in docs/data-model.md.
const (
	// QualityBad marks a value that could not be read (device unreachable,
	// exception response); Value holds the last known value or nil.
	QualityBad = 0
	// QualityGood marks a value read and accepted as is.
	QualityGood = 1
	// QualitySuspect marks a value flagged by a bad-data rule.
	QualitySuspect = 2
	// QualitySubstituted marks a value replaced by a bad-data rule.
	QualitySubstituted = 3
)

// MeasurementsPrefix is the document path under which measurements live.
const MeasurementsPrefix = "measurements."

// MeasurementsTimestampField is the document field holding the timestamp of the
// latest measurement written to the document.
const MeasurementsTimestampField = "measurementsTimestamp"

// Measurement is the value of one measured quantity at one time, stored in a
// document as measurements.<name> = {value, quality, timestamp}.
type Measurement struct {
	// Value is the engineering value: a number, string, bool or nil.
	Value any `json:"value"`
	// Quality is one of the Quality* codes.
	Quality int `json:"quality"`
	// Timestamp is when the value was read at the source, in UTC.
	Timestamp time.Time `json:"timestamp"`
}

// Update is one document update, the unit that flows from edge to hub.
type Update struct {
	// Layer names the layer (system or data domain) of the document.
	Layer string `json:"layer"`
	// Collection names the collection inside the layer.
	Collection string `json:"collection"`
	// ID is the document's _id.
	ID string `json:"id"`
	// Set maps dotted field paths to their new values, e.g.
	// "measurements.activePower" to a Measurement.
	Set map[string]any `json:"set"`
	// TS is when the update was produced.
	TS time.Time `json:"ts"`
}

// Validate reports what is wrong with u, or nil.
func (u *Update) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"layer", u.Layer}, {"collection", u.Collection}, {"id", u.ID}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	if strings.Contains(u.Layer, "_") {
		errs = append(errs, fmt.Errorf("layer %q contains '_', which separates layer and collection in store names", u.Layer))
	}
	if len(u.Set) == 0 {
		errs = append(errs, errors.New("set is empty"))
	}
	for k := range u.Set {
		if k == "" || k == "_id" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			errs = append(errs, fmt.Errorf("set field %q is not a valid field path", k))
		}
	}
	if u.TS.IsZero() {
		errs = append(errs, errors.New("ts is missing"))
	}
	return errors.Join(errs...)
}

// MeasurementUpdate builds the update that writes the measurements of one
// reading into a document, together with measurementsTimestamp.
func MeasurementUpdate(layer, collection, id string, ts time.Time, ms map[string]Measurement) Update {
	set := make(map[string]any, len(ms)+1)
	for name, m := range ms {
		set[MeasurementsPrefix+name] = m
	}
	set[MeasurementsTimestampField] = ts.UTC()
	return Update{Layer: layer, Collection: collection, ID: id, Set: set, TS: ts.UTC()}
}

// Batch is a run of consecutive updates of one edge, as sent to the hub.
// Update i has sequence number SeqFirst+i, so (Edge, seq) names every update
// uniquely and applying a batch twice changes nothing.
type Batch struct {
	// Edge is the id of the edge that produced the updates.
	Edge string `json:"edge"`
	// SeqFirst is the sequence number of Updates[0].
	SeqFirst uint64 `json:"seq_first"`
	// SeqLast is the sequence number of the last update.
	SeqLast uint64 `json:"seq_last"`
	// Updates are the updates in sequence order.
	Updates []Update `json:"updates"`
}

// MsgID is the JetStream de-duplication id of the batch:
// <edge>:<seq_first>-<seq_last>.
func (b *Batch) MsgID() string {
	return fmt.Sprintf("%s:%d-%d", b.Edge, b.SeqFirst, b.SeqLast)
}

// Validate reports what is wrong with b, or nil.
func (b *Batch) Validate() error {
	if b.Edge == "" {
		return errors.New("batch: edge is empty")
	}
	if b.SeqFirst == 0 {
		return errors.New("batch: seq_first must be at least 1")
	}
	if b.SeqLast < b.SeqFirst {
		return fmt.Errorf("batch: seq_last %d is before seq_first %d", b.SeqLast, b.SeqFirst)
	}
	if n := uint64(len(b.Updates)); n != b.SeqLast-b.SeqFirst+1 {
		return fmt.Errorf("batch: %d updates for sequence %d-%d", n, b.SeqFirst, b.SeqLast)
	}
	for i := range b.Updates {
		if err := b.Updates[i].Validate(); err != nil {
			return fmt.Errorf("batch: update %d (seq %d): %w", i, b.SeqFirst+uint64(i), err)
		}
	}
	return nil
}

// ReplaceNonFinite makes updates encodable as JSON: a measurement whose
// value is NaN or ±Inf (a device's "not available", or a rule's output) gets
// a nil value and QualityBad unless a rule already marked it; other NaN/Inf
// values become nil. It changes the updates in place.
func ReplaceNonFinite(updates []Update) {
	for i := range updates {
		for k, v := range updates[i].Set {
			switch t := v.(type) {
			case Measurement:
				if f, ok := t.Value.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
					t.Value = nil
					if t.Quality == QualityGood {
						t.Quality = QualityBad
					}
					updates[i].Set[k] = t
				}
			case float64:
				if math.IsNaN(t) || math.IsInf(t, 0) {
					updates[i].Set[k] = nil
				}
			case map[string]any:
				if f, ok := t["value"].(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
					t["value"] = nil
					if q, _ := t["quality"].(int); q == QualityGood {
						t["quality"] = QualityBad
					}
				}
			}
		}
	}
}
