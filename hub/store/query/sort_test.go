package query

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func ids(docs []map[string]any) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i], _ = d["_id"].(string)
	}
	return out
}

func mixedDocs(t *testing.T) []map[string]any {
	docs := []map[string]any{
		decode(t, `{"_id":"e6","v":"s"}`),
		decode(t, `{"_id":"e2"}`),
		decode(t, `{"_id":"e4","v":[1,5]}`),
		decode(t, `{"_id":"e9","v":true}`),
		decode(t, `{"_id":"e3","v":null}`),
		decode(t, `{"_id":"e8","v":[[0]]}`),
		decode(t, `{"_id":"e5","v":3}`),
		decode(t, `{"_id":"e7","v":{"a":1}}`),
		decode(t, `{"_id":"e1","v":[]}`),
		{"_id": "e10", "v": date("2024-01-01T00:00:00Z")},
	}
	return docs
}

func TestSortMixedTypes(t *testing.T) {
	cases := []struct {
		spec string
		want []string
	}{
		// Empty array < missing = null < numbers (an array by its smallest
		// element ascending, its largest descending) < strings < objects <
		// arrays < bool < dates. e2 and e3 tie; the sort is stable.
		{`{"v":1}`, []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10"}},
		{`{"v":-1}`, []string{"e10", "e9", "e8", "e7", "e6", "e4", "e5", "e2", "e3", "e1"}},
	}
	for _, c := range cases {
		spec, err := ParseSortJSON([]byte(c.spec))
		if err != nil {
			t.Fatal(err)
		}
		// Sort and a stable sort with Less must agree.
		docs := mixedDocs(t)
		spec.Sort(docs)
		if got := ids(docs); !slices.Equal(got, c.want) {
			t.Errorf("Sort(%s) = %v, want %v", c.spec, got, c.want)
		}
		docs = mixedDocs(t)
		slices.SortStableFunc(docs, func(a, b map[string]any) int {
			switch {
			case spec.Less(a, b):
				return -1
			case spec.Less(b, a):
				return 1
			}
			return 0
		})
		if got := ids(docs); !slices.Equal(got, c.want) {
			t.Errorf("sort with Less(%s) = %v, want %v", c.spec, got, c.want)
		}
	}
}

func TestSortDottedAndMultiKey(t *testing.T) {
	docs := corpus(t)
	cases := []struct {
		spec string
		want []string
	}{
		// items.qty: d3 has no items and d4 an empty items array (null);
		// d5 and d6 have an object element without qty (null); then d2 (1)
		// and d1 (2). Descending uses the largest value.
		{`{"items.qty":1}`, []string{"d3", "d4", "d5", "d6", "d2", "d1"}},
		{`{"items.qty":-1}`, []string{"d5", "d1", "d2", "d3", "d4", "d6"}},
	}
	for _, c := range cases {
		spec, err := ParseSortJSON([]byte(c.spec))
		if err != nil {
			t.Fatal(err)
		}
		d := slices.Clone(docs)
		spec.Sort(d)
		if got := ids(d); !slices.Equal(got, c.want) {
			t.Errorf("Sort(%s) = %v, want %v", c.spec, got, c.want)
		}
	}

	// Key order of a JSON object is kept: kind first, then n descending.
	spec, err := ParseSortJSON([]byte(`{"meta.kind":1,"n":-1}`))
	if err != nil {
		t.Fatal(err)
	}
	d := slices.Clone(docs)
	spec.Sort(d)
	// kind null: d3 ("10" string) > d4 (null); meter: d6 (true) > d1 (1) > d5 (-7); sensor: d2.
	if got, want := ids(d), []string{"d3", "d4", "d6", "d1", "d5", "d2"}; !slices.Equal(got, want) {
		t.Errorf("multi-key sort = %v, want %v", got, want)
	}
	rev, _ := ParseSortJSON([]byte(`{"n":-1,"meta.kind":1}`))
	if slices.Equal(rev, spec) {
		t.Error("ParseSortJSON lost the key order")
	}
}

func TestParseSortForms(t *testing.T) {
	want := SortSpec{{Field: "a"}, {Field: "b.c", Desc: true}}
	forms := []any{
		"a,-b.c",
		" +a , -b.c ",
		[]any{[]any{"a", 1.0}, []any{"b.c", -1.0}},
		[]any{map[string]any{"a": 1.0}, map[string]any{"b.c": "desc"}},
		map[string]any{"b.c": -1, "a": "asc"}, // map keys taken in lexical order
		want,
	}
	for _, f := range forms {
		got, err := ParseSort(f)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSort(%#v) = %v, %v; want %v", f, got, err, want)
		}
	}
	for _, text := range []string{`{"a":1,"b.c":-1}`, `"a,-b.c"`, `[["a",1],["b.c",-1]]`} {
		got, err := ParseSortJSON([]byte(text))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSortJSON(%s) = %v, %v; want %v", text, got, err, want)
		}
	}
	if got, err := ParseSort(nil); err != nil || got != nil {
		t.Errorf("ParseSort(nil) = %v, %v", got, err)
	}
}

func TestParseSortErrors(t *testing.T) {
	cases := []struct {
		text string
		want string
	}{
		{`{"a":2}`, `direction must be 1 or -1`},
		{`{"a":{"$meta":"textScore"}}`, `$meta sorts are not supported`},
		{`{"a":1,"a":-1}`, `listed twice`},
		{`{"":1}`, `empty field name`},
		{`"a,,-$b"`, `must not start with $`},
		{`[["a"]]`, `must be [field, direction]`},
		{`[5]`, `must be [field, direction] pairs`},
		{`{"a":1`, `invalid JSON`},
		{`{"a":1} x`, `invalid JSON`},
		{`5`, `unsupported sort specification`},
	}
	for _, c := range cases {
		_, err := ParseSortJSON([]byte(c.text))
		if err == nil || !errors.Is(err, ErrBadSort) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSortJSON(%s) error = %v, want %q", c.text, err, c.want)
		}
	}
}
