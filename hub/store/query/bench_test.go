package query

import (
	"fmt"
	"testing"
)

// benchDoc is a 20-field document like a stored measurement.
func benchDoc() map[string]any {
	doc := map[string]any{
		"_id":    "meter-0042",
		"status": "active",
		"value":  231.5,
		"tags":   []any{"grid", "lv", "feeder-7"},
		"meta":   map[string]any{"kind": "meter", "phase": "L1"},
	}
	for i := len(doc); i < 20; i++ {
		doc[fmt.Sprintf("field%02d", i)] = float64(i)
	}
	return doc
}

// BenchmarkMatch measures a 3-condition selector (equality, range, array
// containment) on a 20-field document.
func BenchmarkMatch(b *testing.B) {
	sel, err := ParseSelector([]byte(`{"status":"active","value":{"$gt":200},"tags":"grid"}`))
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc()
	b.ReportAllocs()
	for b.Loop() {
		if !sel.Match(doc) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatchDotted measures dotted paths and $in.
func BenchmarkMatchDotted(b *testing.B) {
	sel, err := ParseSelector([]byte(`{"meta.kind":"meter","meta.phase":{"$in":["L1","L2"]},"field10":{"$gte":5,"$lt":50}}`))
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc()
	b.ReportAllocs()
	for b.Loop() {
		if !sel.Match(doc) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParseSelector(b *testing.B) {
	text := []byte(`{"status":"active","value":{"$gt":200},"tags":"grid"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSelector(text); err != nil {
			b.Fatal(err)
		}
	}
}
