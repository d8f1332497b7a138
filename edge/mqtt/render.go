package mqtt

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"
)

// DateFormat is how _DATE_ is rendered: ISO 8601 in UTC with milliseconds,
// as JavaScript's Date.toISOString writes it.
const DateFormat = "2006-01-02T15:04:05.000Z07:00"

// datePlaceholder is the special placeholder of the seed.
const datePlaceholder = "_DATE_"

// renderer renders the templates of one slave: it knows the variable names
// of the slave's map.
type renderer struct {
	names map[string]bool
	// byLength lists "_NAME_" placeholders, longest first, so that a longer
	// name wins over a shorter one sharing its start inside a string.
	byLength []string
}

func newRenderer(names []string) *renderer {
	r := &renderer{names: make(map[string]bool, len(names))}
	for _, n := range names {
		r.names[n] = true
		r.byLength = append(r.byLength, "_"+n+"_")
	}
	sort.Slice(r.byLength, func(i, j int) bool {
		if len(r.byLength[i]) != len(r.byLength[j]) {
			return len(r.byLength[i]) > len(r.byLength[j])
		}
		return r.byLength[i] < r.byLength[j]
	})
	return r
}

// render returns the message of template merged with extras, with values
// (nil for unknown or bad values) and ts substituted.
func (r *renderer) render(template, extras map[string]any, values map[string]any, ts time.Time) map[string]any {
	date := ts.UTC().Format(DateFormat)
	var repl *strings.Replacer // built on first embedded use
	replacer := func() *strings.Replacer {
		if repl == nil {
			pairs := make([]string, 0, 2*len(r.byLength)+2)
			for _, p := range r.byLength {
				pairs = append(pairs, p, inlineText(values[p[1:len(p)-1]]))
			}
			pairs = append(pairs, datePlaceholder, date)
			repl = strings.NewReplacer(pairs...)
		}
		return repl
	}
	var sub func(v any) any
	sub = func(v any) any {
		switch x := v.(type) {
		case string:
			if x == datePlaceholder {
				return date
			}
			if len(x) > 2 && x[0] == '_' && x[len(x)-1] == '_' && r.names[x[1:len(x)-1]] {
				return jsonValue(values[x[1:len(x)-1]])
			}
			if strings.Contains(x, "_") && len(x) > 2 {
				return replacer().Replace(x)
			}
			return x
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = sub(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = sub(e)
			}
			return out
		}
		return v
	}
	msg := sub(template).(map[string]any)
	for k, e := range extras {
		msg[k] = sub(e)
	}
	return msg
}

// jsonValue makes v safe for encoding/json: NaN and infinities, which JSON
// cannot carry, become nil.
func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	}
	return v
}

// inlineText is the text of v inside a longer string: a string as it is,
// anything else as its JSON text.
func inlineText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		return "null"
	}
	return string(b)
}
