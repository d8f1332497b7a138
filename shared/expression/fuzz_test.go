package expression

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzCompile checks the JEXL front end: Compile never panics, reports
// positions inside the source, and every program it accepts evaluates
// without an internal error (panic or a tree expr-lang rejects).
func FuzzCompile(f *testing.F) {
	seeds := []string{
		"5 * value", "ts|toisodate", `name|substr(0,name|indexOf("e")+1)`, "location | split(', ')[1] | parsefloat()",
		"{coordinates: [value,value], type: 'Point'}", `"a|b" | split("|")`, "a ? b : c ?: d", "objs[.a > 1].b[0]",
		"(((1", "'it\\'s' + \"x\"", "!a|f", "- 5 - -5", "a[(.x)]", "x|bitwisemask(1, '&', 2)", "now()", "[1,,2]",
	}
	for _, s := range transformCases {
		seeds = append(seeds, s.src)
	}
	if raw, err := os.ReadFile("testdata/jexl_vectors.json"); err == nil {
		if doc, err := parseJSON(string(raw)); err == nil {
			for _, v := range doc.(*object).m["vectors"].([]any) {
				seeds = append(seeds, v.(*object).m["expr"].(string))
			}
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	env := map[string]any{
		"value": 6, "name": "DevId629", "s": "a,b", "n": nil, "arr": []any{1, "x", nil, []any{2}},
		"objs": []any{map[string]any{"a": 1}, map[string]any{"a": 2, "b": "y"}}, "obj": map[string]any{"k": 1},
	}
	opts := Options{MaxNodes: 200, MaxStringLen: 1 << 12, MaxArrayLen: 1 << 10, Location: time.UTC,
		Now: func() time.Time { return time.UnixMilli(0) }}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, opts)
		if err != nil {
			if errors.Is(err, errInternal) {
				t.Fatalf("Compile(%q): %v", src, err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): got %T %v, want *SyntaxError", src, err, err)
			}
			if se.Pos < 0 || se.Pos > len(src) {
				t.Fatalf("Compile(%q): position %d outside the source", src, se.Pos)
			}
			return
		}
		if _, err := p.EvalJSON(env); errors.Is(err, errInternal) {
			t.Fatalf("Eval(%q): %v", src, err)
		} else if err != nil && !strings.HasPrefix(err.Error(), "expression: ") {
			t.Fatalf("Eval(%q): error %q lacks the prefix", src, err)
		}
	})
}
