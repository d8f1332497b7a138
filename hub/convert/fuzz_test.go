package convert

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// FuzzTemplate compiles arbitrary template strings and applies them to a
// fixed document: compilation either succeeds or is ErrInvalid, and an
// application never panics and fails only with the package's errors.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{id}}", "=> toISO(timestamp)", "meter-{{id}} ({{loc.city}})", "=> toISO({{a.0}}, 'x', 3, null)",
		"{{", "}}{{", "=> toISO(", "=>", "{{ a . b }}", "=> toISO('unterminated)", "=> nope(a)", "{{vals.99}}"} {
		f.Add(s)
	}
	src := map[string]any{"id": "M1", "timestamp": 1714557600000.0, "loc": map[string]any{"city": "Valencia"}, "a": []any{1.0, "x"}}
	f.Fuzz(func(t *testing.T, s string) {
		tr := &Transformation{ID: "fuzz", Template: map[string]any{"k": s, "list": []any{s}},
			Functions: map[string]string{"toISO": "(ts) => new Date(ts).toISOString()"}}
		c, err := Compile(tr, Limits{Timeout: config.Duration(time.Second)})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("compile %q: %v is not ErrInvalid", s, err)
			}
			return
		}
		out, err := c.Apply(src)
		if err != nil {
			if !errors.Is(err, ErrScript) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrMemory) {
				t.Fatalf("apply %q: unexpected error %v", s, err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("apply %q: result %v is not JSON: %v", s, out, err)
		}
	})
}
