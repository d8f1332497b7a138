package bolt

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// TestPartialDecodeMatches checks that matching on the fields decodeFields
// decodes gives what matching the whole document gives.
func TestPartialDecodeMatches(t *testing.T) {
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	docs := []store.Document{
		{"_id": "a", "s": `quote " and \ backslash`, "n": 1.5, "m": map[string]any{"p": map[string]any{"value": 3.0, "ts": ts}, "q": []any{1.0, "x"}}, "t": ts, "b": true, "z": nil},
		{"_id": "b", "s": "plain", "n": -2e10, "m": map[string]any{"p": []any{map[string]any{"value": 3.0}}}, "arr": []any{map[string]any{"k": "v"}}},
		{"_id": "c", "weird\"key": 1.0, "m": map[string]any{}},
	}
	sels := []string{
		`{"s": "quote \" and \\ backslash"}`, `{"n": {"$gt": 0}}`, `{"m.p.value": 3}`, `{"m.p.ts": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}}`,
		`{"t": {"$lt": {"$date": "2025-01-01T00:00:00Z"}}}`, `{"m.q": "x"}`, `{"b": true, "z": null}`, `{"arr.k": "v"}`,
		`{"weird\"key": 1}`, `{"m": {}}`, `{"$or": [{"n": {"$lt": 0}}, {"m.p": {"$exists": false}}]}`, `{"m.p.value": {"$exists": true}, "m": {"$type": "object"}}`,
	}
	for _, js := range sels {
		sel, err := query.ParseSelector([]byte(js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		want := fieldsFor(sel, nil)
		if want == nil {
			t.Fatalf("%s: fields not told", js)
		}
		for _, d := range docs {
			raw, err := encodeValue(d)
			if err != nil {
				t.Fatal(err)
			}
			full, err := decodeDoc(raw)
			if err != nil {
				t.Fatal(err)
			}
			part, err := decodeFields(raw, want)
			if err != nil {
				t.Fatalf("%s on %s: %v", js, raw, err)
			}
			if got, want := sel.Match(part), sel.Match(full); got != want {
				t.Errorf("%s on %s: partial match %v, whole match %v (partial %v)", js, raw, got, want, part)
			}
		}
	}
}
