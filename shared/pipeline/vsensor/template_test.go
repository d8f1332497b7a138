package vsensor

import (
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/expression"
)

func TestTranslate(t *testing.T) {
	isVar := func(s string) bool { return s == "Q" || s == "CONST" }
	tests := []struct {
		in, src string
		nargs   int
		whole   bool
		err     string
	}{
		{"{timestamp}", "$0", 1, true, ""},
		{" {Q} ", " $0 ", 1, true, ""},
		{"{Q} / {CONST}", "$0 / $1", 2, false, ""},
		{"({a_b.T>m.p.value|0.0} + {a_b.P>m.p.value|0.0}) / 100", "($0 + $1) / 100", 2, false, ""},
		{`toISOString("{a_b.T>measurementsTimestamp}") `, `toisostring(("" + $0 + "")) `, 1, false, ""},
		{`toISOString("{a_b.T}>measurementsTimestamp")`, `toisostring(("" + $0 + ""))`, 1, false, ""},
		{`'x{Q}y' + "{}"`, `('x'+$0+'y') + "{}"`, 1, false, ""},
		{`{a: {Q}}`, `{a: $0}`, 1, false, ""},
		{`'it\'s {Q}'`, `('it\'s '+$0+'')`, 1, false, ""},
		{"plain text", "plain text", 0, false, ""},
		{"{nope} + 1", "", 0, false, "no such var"},
		{"{ab.x>y}", "", 0, false, "is not <layer>_<collection>"},
		{"{a_b.x>}", "", 0, false, "not a dotted path"},
		{"{a_b>y}", "", 0, false, "no document id"},
	}
	for _, tc := range tests {
		got, err := translate(tc.in, isVar)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("translate(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("translate(%q): %v", tc.in, err)
			continue
		}
		// the splice adds no spaces; compare without them
		if strings.ReplaceAll(got.src, " ", "") != strings.ReplaceAll(tc.src, " ", "") || len(got.args) != tc.nargs || got.whole != tc.whole {
			t.Errorf("translate(%q) = %q, %d args, whole %v; want %q, %d, %v", tc.in, got.src, len(got.args), got.whole, tc.src, tc.nargs, tc.whole)
		}
	}
}

func TestUnterminatedLiteralFailsToCompile(t *testing.T) {
	tr, err := translate("'open {Q}", func(s string) bool { return s == "Q" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expression.Compile(tr.src, expression.Options{}); err == nil {
		t.Errorf("unterminated literal translated to %q, which compiles", tr.src)
	}
}

func TestParseDefault(t *testing.T) {
	for in, want := range map[string]any{"0.0": 0.0, "-3": -3.0, "true": true, "null": nil, "'x'": "x", "abc": "abc"} {
		if got := parseDefault(in); got != want {
			t.Errorf("parseDefault(%q) = %#v, want %#v", in, got, want)
		}
	}
}

// FuzzTemplate fuzzes the template front end: translation never panics,
// and what it produces either compiles or is rejected by the expression
// compiler with an error (never an internal error), and evaluates without
// panicking.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"{timestamp}", "{Q} / {CONST}", "({a_b.T>m.p.value|0.0} + {a_b.P>m.p.value|0.0}) / 100",
		`toISOString("{a_b.T>measurementsTimestamp}") `, `toISOString("{a_b.T}>t")`, `'x{Q}y' + "{}"`,
		`{a: {Q}}`, `'it\'s {Q}'`, "{a_b.x>y|'z'}", "{{Q}}", "}{", `"\`, "{a_b.c>d}>e",
	} {
		f.Add(s)
	}
	isVar := func(s string) bool { return s == "Q" || s == "CONST" }
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := translate(s, isVar)
		if err != nil {
			return
		}
		if tr.whole && len(tr.args) != 1 {
			t.Fatalf("whole with %d args", len(tr.args))
		}
		p, err := expression.Compile(tr.src, expression.Options{})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("translate(%q) = %q: %v", s, tr.src, err)
			}
			return
		}
		env := map[string]any{}
		for i := range tr.args {
			env[argName(i)] = []any{1.5, "x", time.Unix(0, 0)}[i%3]
		}
		if _, err := p.Eval(env); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("eval %q: %v", tr.src, err)
		}
	})
}
