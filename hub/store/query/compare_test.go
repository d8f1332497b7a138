package query

import (
	"math"
	"testing"
)

func TestCompareOrder(t *testing.T) {
	// Ascending BSON order across and within types.
	ordered := []any{
		nil,
		math.NaN(), -1.5, 0, int64(1), 2.5,
		"", "B", "a", "ab",
		map[string]any{}, map[string]any{"a": nil}, map[string]any{"a": 1.0}, map[string]any{"a": 1.0, "b": 1.0}, map[string]any{"b": 0.0},
		[]any{}, []any{nil}, []any{1.0}, []any{1.0, 2.0}, []any{2.0},
		false, true,
		date("2024-01-01T00:00:00Z"), date("2024-01-02T00:00:00Z"),
	}
	for i := range ordered {
		for j := range ordered {
			got := Compare(ordered[i], ordered[j])
			want := cmpInt(i, j)
			if got != want {
				t.Errorf("Compare(%#v, %#v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestCompareEquivalences(t *testing.T) {
	cases := []struct {
		a, b any
		want int
	}{
		{1, 1.0, 0},
		{int32(7), uint8(7), 0},
		{int64(1 << 62), int64(1<<62 + 1), -1},
		{map[string]any{"x": 1.0, "y": 2.0}, map[string]any{"y": 2, "x": 1}, 0},
		{[]any{1, "a"}, []any{1.0, "a"}, 0},
		{date("2024-01-01T00:00:00Z"), date("2024-01-01T01:00:00+01:00"), 0},
		{"2024-01-01", date("2024-01-01T00:00:00Z"), -1}, // strings sort before dates
	}
	for _, c := range cases {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%#v, %#v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestGet(t *testing.T) {
	doc := decode(t, `{"a":{"b":[{"c":1},{"c":2}]},"n":null}`)
	cases := []struct {
		path   string
		want   any
		wantOK bool
	}{
		{"a.b.1.c", 2.0, true},
		{"a.b.0", map[string]any{"c": 1.0}, true},
		{"n", nil, true},
		{"a.b.c", nil, false}, // would fan out over the array
		{"a.b.2", nil, false},
		{"a.x", nil, false},
		{"n.x", nil, false},
	}
	for _, c := range cases {
		got, ok := Get(doc, c.path)
		if ok != c.wantOK || !equalOrNil(got, c.want) {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", c.path, got, ok, c.want, c.wantOK)
		}
	}
}
