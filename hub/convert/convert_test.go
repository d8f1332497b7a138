package convert

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedTemplate is the seed's transformation by template (3.2.3).
var seedTemplate = map[string]any{
	"_id": "my-transformation",
	"template": map[string]any{
		"id":   "{{id}}",
		"date": "=> toISO(timestamp)",
		"measurements": map[string]any{
			"activeEnergyExported": map[string]any{"timestamp": "{{timestamp}}", "value": "{{AEexp}}"},
		},
	},
	"functions": map[string]any{"toISO": "(ts) => { return new Date(ts).toISOString(); }"},
}

// seedCode is the seed's transformation by function.
var seedCode = map[string]any{"_id": "my-transformation", "code": "(d) => { d.newField = 'myData'; return d; }"}

func mustCompile(t testing.TB, doc map[string]any, lim Limits) *Converter {
	t.Helper()
	tr, err := FromDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(tr, lim)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestApply(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		conv map[string]any
		src  map[string]any
		want any
	}{
		{"seed template, ms timestamp", seedTemplate,
			map[string]any{"id": "SM001", "timestamp": 1714557600000.0, "AEexp": 12.5},
			map[string]any{"id": "SM001", "date": "2024-05-01T10:00:00.000Z", "measurements": map[string]any{
				"activeEnergyExported": map[string]any{"timestamp": 1714557600000.0, "value": 12.5}}}},
		{"seed template, date timestamp", seedTemplate,
			map[string]any{"id": "SM001", "timestamp": ts, "AEexp": 1.0},
			map[string]any{"id": "SM001", "date": "2024-05-01T10:00:00.000Z", "measurements": map[string]any{
				"activeEnergyExported": map[string]any{"timestamp": ts, "value": 1.0}}}},
		{"missing field drops the key", seedTemplate,
			map[string]any{"id": "SM002", "timestamp": "2024-05-01T10:00:00Z"},
			map[string]any{"id": "SM002", "date": "2024-05-01T10:00:00.000Z", "measurements": map[string]any{
				"activeEnergyExported": map[string]any{"timestamp": "2024-05-01T10:00:00Z"}}}},
		{"seed code", seedCode, map[string]any{"a": 1.0},
			map[string]any{"a": 1.0, "newField": "myData"}},
		{"text, nested paths, arrays and literals", map[string]any{"_id": "t", "template": map[string]any{
			"name": "meter-{{id}} ({{loc.city}})", "first": "{{vals.0}}", "list": []any{"{{vals.1}}", "{{nope}}", 3.0},
			"sum": "=> add({{vals.0}}, vals.1, 10, 'x')", "k": true},
			"functions": map[string]any{"add": "function (a, b, c, s) { return s + (a + b + c); }"}},
			map[string]any{"id": "M1", "loc": map[string]any{"city": "Valencia"}, "vals": []any{1.0, 2.0}},
			map[string]any{"name": "meter-M1 (Valencia)", "first": 1.0, "list": []any{2.0, nil, 3.0}, "sum": "x13", "k": true}},
		{"code returning a date and nested data", map[string]any{"_id": "d", "code": "(d) => ({at: new Date(d.ms), n: [d.x, {y: null}]})"},
			map[string]any{"ms": 1714557600000.0, "x": "a"},
			map[string]any{"at": ts, "n": []any{"a", map[string]any{"y": nil}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, tt.conv, Limits{})
			got, err := c.Apply(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestApplyDoesNotChangeTheSource(t *testing.T) {
	c := mustCompile(t, seedCode, Limits{})
	src := map[string]any{"a": 1.0}
	if _, err := c.Apply(src); err != nil {
		t.Fatal(err)
	}
	if _, ok := src["newField"]; ok {
		t.Errorf("the code changed the caller's map: %v", src)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		conv map[string]any
		want string
	}{
		{"neither", map[string]any{"_id": "x"}, `invalid converter "x": has neither template nor code`},
		{"both", map[string]any{"_id": "x", "code": "(d)=>d", "template": map[string]any{}}, `invalid converter "x": template and code are exclusive`},
		{"syntax", map[string]any{"_id": "x", "code": "(d) => {"}, `invalid converter "x": code does not compile`},
		{"undefined function", map[string]any{"_id": "x", "template": map[string]any{"a": "=> nope(id)"}, "functions": map[string]any{"f": "(x)=>x"}},
			`invalid converter "x": template.a: calls "nope", which functions does not define (defined: f)`},
		{"bad function", map[string]any{"_id": "x", "template": map[string]any{"a": "=> f(id)"}, "functions": map[string]any{"f": "(x)=>{"}},
			`invalid converter "x": functions.f does not compile`},
		{"functions not strings", map[string]any{"_id": "x", "template": map[string]any{}, "functions": map[string]any{"f": 1.0}},
			`invalid converter "x": functions.f must be a string of JavaScript, not float64`},
		{"unclosed placeholder", map[string]any{"_id": "x", "template": map[string]any{"a": "{{id"}}, `invalid converter "x": template.a: "{{id": {{ without }}`},
		{"bad call", map[string]any{"_id": "x", "template": map[string]any{"a": "=> f"}, "functions": map[string]any{"f": "(x)=>x"}},
			`invalid converter "x": template.a: "f": want "=> function(arguments)"`},
		{"bad argument", map[string]any{"_id": "x", "template": map[string]any{"a": "=> f(a b)"}, "functions": map[string]any{"f": "(x)=>x"}},
			`invalid converter "x": template.a: "f(a b)": argument "a b": is neither a literal nor a field path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := FromDocument(tt.conv)
			if err == nil {
				_, err = Compile(tr, Limits{})
			}
			if err == nil || !errors.Is(err, ErrInvalid) || len(err.Error()) < len(tt.want) || err.Error()[:len(tt.want)] != tt.want {
				t.Errorf("got %v, want an ErrInvalid starting %q", err, tt.want)
			}
		})
	}
}

func TestScriptErrors(t *testing.T) {
	tests := []struct {
		name string
		code string
		want error
		msg  string
	}{
		{"throws", "(d) => { throw new Error('no ' + d.a) }", ErrScript, "Error: no 1"},
		{"not a function", "42", ErrScript, "code is 42, not a function"},
		{"returns a function", "(d) => () => 1", ErrScript, "not JSON data"},
		{"reference error", "(d) => undefinedThing + 1", ErrScript, "ReferenceError"},
		{"strict: no implicit global", "(d) => { leak = 1; return d }", ErrScript, "ReferenceError"},
		{"deep recursion", "(d) => { const f = (n) => f(n + 1) + 1; return f(0) }", ErrScript, "call stack deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, map[string]any{"_id": "x", "code": tt.code}, Limits{})
			_, err := c.Apply(map[string]any{"a": 1.0})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v, want %v with %q", err, tt.want, tt.msg)
			}
		})
	}
}
