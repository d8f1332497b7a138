package store

import (
	"errors"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store/query"
)

func TestRangeSelector(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	from, to := t0, t0.Add(time.Hour)
	onlyA, err := query.CompileSelector(map[string]any{"kind": "a"})
	if err != nil {
		t.Fatal(err)
	}
	doc := func(ts time.Time, kind string) Document { return Document{"timestamp": ts, "kind": kind} }
	tests := []struct {
		name string
		doc  Document
		sel  *query.Selector
		want bool
	}{
		{"at from", doc(from, "a"), nil, true},
		{"at to", doc(to, "a"), nil, true},
		{"inside", doc(from.Add(time.Minute), "b"), nil, true},
		{"before", doc(from.Add(-time.Millisecond), "a"), nil, false},
		{"after", doc(to.Add(time.Millisecond), "a"), nil, false},
		{"no field", Document{"kind": "a"}, nil, false},
		{"string, not a date", Document{"timestamp": from.Format(time.RFC3339)}, nil, false},
		{"inside and selected", doc(from, "a"), onlyA, true},
		{"inside, not selected", doc(from, "b"), onlyA, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := RangeSelector("timestamp", from, to, tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Match(tt.doc); got != tt.want {
				t.Errorf("match %v = %v, want %v", tt.doc, got, tt.want)
			}
		})
	}
}

func TestRangeSelectorErrors(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		field    string
		from, to time.Time
	}{
		{"no field", "", t0, t0},
		{"to before from", "timestamp", t0, t0.Add(-time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RangeSelector(tt.field, tt.from, tt.to, nil); !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}
