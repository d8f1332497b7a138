package convert

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// tnode is a compiled template value; ok=false means "missing" (the key is
// dropped).
type tnode interface {
	eval(a *applier) (v any, ok bool, err error)
}

// applier is the state of one template application.
type applier struct {
	c     *Converter
	src   map[string]any
	call  *call // made at the first function call
	funcs map[string]goja.Callable
}

func (a *applier) end() {
	if a.call != nil {
		a.call.end()
	}
}

type constT struct{ v any }

func (n constT) eval(*applier) (any, bool, error) { return cloneJSON(n.v), true, nil }

type fieldT struct{ path string }

func (n fieldT) eval(a *applier) (any, bool, error) {
	v, ok := lookup(a.src, n.path)
	return cloneJSON(v), ok, nil
}

// textT is text with placeholders: parts alternate text and field paths.
type textT struct {
	parts []string // even: text, odd: path
}

func (n textT) eval(a *applier) (any, bool, error) {
	var b strings.Builder
	for i, p := range n.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		if v, ok := lookup(a.src, p); ok {
			b.WriteString(textOf(v))
		}
	}
	return b.String(), true, nil
}

// callT is "=> fn(args)".
type callT struct {
	fn   string
	args []tnode
	path string // of the template string, for errors
}

func (n callT) eval(a *applier) (any, bool, error) {
	if a.call == nil {
		a.call = newCall(&a.c.lim)
		a.funcs = map[string]goja.Callable{}
	}
	fn, ok := a.funcs[n.fn]
	if !ok {
		var err error
		if fn, err = a.call.function("functions."+n.fn, a.c.funcs[n.fn]); err != nil {
			return nil, false, fmt.Errorf("converter %q: %s: %w", a.c.id, n.path, err)
		}
		a.funcs[n.fn] = fn
	}
	args := make([]goja.Value, len(n.args))
	for i, x := range n.args {
		v, ok, err := x.eval(a)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			args[i] = goja.Undefined()
			continue
		}
		if args[i], err = a.call.toJS(v); err != nil {
			return nil, false, fmt.Errorf("converter %q: %s: %w", a.c.id, n.path, err)
		}
	}
	out, err := a.call.run(n.fn, fn, args...)
	if err != nil {
		return nil, false, fmt.Errorf("converter %q: %s: %w", a.c.id, n.path, err)
	}
	return out, true, nil
}

type objectT struct {
	keys []string
	vals []tnode
}

func (n objectT) eval(a *applier) (any, bool, error) {
	m := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		v, ok, err := n.vals[i].eval(a)
		if err != nil {
			return nil, false, err
		}
		if ok {
			m[k] = v
		}
	}
	return m, true, nil
}

type arrayT struct{ vals []tnode }

func (n arrayT) eval(a *applier) (any, bool, error) {
	out := make([]any, len(n.vals))
	for i, x := range n.vals {
		v, _, err := x.eval(a)
		if err != nil {
			return nil, false, err
		}
		out[i] = v
	}
	return out, true, nil
}

// compileTemplate compiles the template value v found at path.
func compileTemplate(path string, v any, funcs map[string]*goja.Program) (tnode, error) {
	switch t := v.(type) {
	case string:
		return compileString(path, t, funcs)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := objectT{keys: keys, vals: make([]tnode, len(keys))}
		for i, k := range keys {
			x, err := compileTemplate(path+"."+k, t[k], funcs)
			if err != nil {
				return nil, err
			}
			n.vals[i] = x
		}
		return n, nil
	case []any:
		n := arrayT{vals: make([]tnode, len(t))}
		for i, x := range t {
			y, err := compileTemplate(fmt.Sprintf("%s[%d]", path, i), x, funcs)
			if err != nil {
				return nil, err
			}
			n.vals[i] = y
		}
		return n, nil
	}
	return constT{v: v}, nil
}

func compileString(path, s string, funcs map[string]*goja.Program) (tnode, error) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "=>"); ok {
		return compileCall(path, strings.TrimSpace(rest), funcs)
	}
	if !strings.Contains(s, "{{") {
		return constT{v: s}, nil
	}
	var parts []string
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			parts = append(parts, rest)
			break
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("%s: %q: {{ without }}", path, s)
		}
		field := strings.TrimSpace(rest[i+2 : i+2+j])
		if err := checkPath(field); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", path, s, err)
		}
		parts = append(parts, rest[:i], field)
		rest = rest[i+2+j+2:]
	}
	if len(parts) == 3 && parts[0] == "" && parts[2] == "" {
		return fieldT{path: parts[1]}, nil
	}
	return textT{parts: parts}, nil
}

// compileCall compiles "fn(arg, …)".
func compileCall(path, s string, funcs map[string]*goja.Program) (tnode, error) {
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("%s: %q: want \"=> function(arguments)\"", path, s)
	}
	name := strings.TrimSpace(s[:open])
	if _, ok := funcs[name]; !ok {
		known := make([]string, 0, len(funcs))
		for k := range funcs {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("%s: calls %q, which functions does not define (defined: %s)", path, name, strings.Join(known, ", "))
	}
	args, err := splitArgs(s[open+1 : len(s)-1])
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %v", path, s, err)
	}
	n := callT{fn: name, path: path}
	for _, a := range args {
		x, err := compileArg(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: argument %q: %v", path, s, a, err)
		}
		n.args = append(n.args, x)
	}
	return n, nil
}

// splitArgs splits at top-level commas, outside quotes.
func splitArgs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ',':
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated string")
	}
	return append(out, strings.TrimSpace(s[start:])), nil
}

func compileArg(a string) (tnode, error) {
	if a == "" {
		return nil, fmt.Errorf("is empty")
	}
	if f, ok := strings.CutPrefix(a, "{{"); ok {
		f, ok = strings.CutSuffix(f, "}}")
		if !ok {
			return nil, fmt.Errorf("{{ without }}")
		}
		f = strings.TrimSpace(f)
		return fieldT{path: f}, checkPath(f)
	}
	if a[0] == '\'' { // a single-quoted string: as a JSON string
		a = `"` + strings.ReplaceAll(strings.ReplaceAll(a[1:len(a)-1], `"`, `\"`), `\'`, `'`) + `"`
	}
	var v any
	if err := json.Unmarshal([]byte(a), &v); err == nil {
		return constT{v: v}, nil
	}
	if err := checkPath(a); err != nil {
		return nil, fmt.Errorf("is neither a literal nor a field path")
	}
	return fieldT{path: a}, nil
}

func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty field path")
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" || strings.ContainsAny(seg, " \t{}()\"'") {
			return fmt.Errorf("%q is not a dotted field path", p)
		}
	}
	return nil
}

// lookup reads the dotted path in v: objects, then arrays by index.
func lookup(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			x, ok := t[seg]
			if !ok {
				return nil, false
			}
			v = x
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// textOf is a value inside text: strings as is, dates in ISO 8601, the
// rest as JSON.
func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case time.Time:
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// cloneJSON deep-copies maps and slices.
func cloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneJSON(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = cloneJSON(x)
		}
		return s
	}
	return v
}
