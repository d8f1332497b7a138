package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestExprEval(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // substring
	}{
		{"arithmetic", []string{"--expr", "level / 100", "--context", `{"level": 85.3}`}, 0, "0.853\n", ""},
		{"object literal", []string{"--expr", "{coordinates: [longitude,latitude], type: 'Point'}", "--context", `{"longitude": -3.7, "latitude": 40.4}`}, 0, `{"coordinates":[-3.7,40.4],"type":"Point"}` + "\n", ""},
		{"pipes", []string{"--expr", "location | split(', ')[1] | parsefloat()", "--context", `{"location": "40.4165, -3.70256"}`}, 0, "-3.70256\n", ""},
		{"string concatenation", []string{"--expr", "longitude+', '+latitude", "--context", `{"longitude": 1.5, "latitude": 2}`}, 0, `"1.5, 2"` + "\n", ""},
		{"default context", []string{"--expr", "1 + 2"}, 0, "3\n", ""},
		{"undefined is null", []string{"--expr", "missing"}, 0, "null\n", ""},
		{"equals form", []string{"--expr=spaces|trim", `--context={"spaces":" foobar "}`}, 0, `"foobar"` + "\n", ""},
		{"syntax error with position", []string{"--expr", "level / )"}, 1, "", "gridedge expr eval: expression: unexpected token \")\", expected operand at position 8\n"},
		{"unknown transform", []string{"--expr", "x|nosuch"}, 1, "", "unknown transform"},
		{"evaluation error with position", []string{"--expr", "x|jsonparse", "--context", `{"x": "{"}`}, 1, "", "SyntaxError"},
		{"context not an object", []string{"--expr", "x", "--context", "[1]"}, 1, "", "context must be a JSON object"},
		{"context not JSON", []string{"--expr", "x", "--context", "{"}, 1, "", "context"},
		{"missing expr", []string{"--context", "{}"}, 2, "", "--expr is required"},
		{"positional argument", []string{"--expr", "1", "extra"}, 2, "", "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), Env{Stdout: &stdout, Stderr: &stderr}, append([]string{"expr", "eval"}, tc.args...))
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if got := stdout.String(); got != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", got, tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}

func TestExprEvalListedInUsage(t *testing.T) {
	var stdout bytes.Buffer
	Main(context.Background(), Env{Stdout: &stdout, Stderr: &stdout}, []string{"--help"})
	if !strings.Contains(stdout.String(), "expr eval") {
		t.Errorf("usage does not list \"expr eval\":\n%s", stdout.String())
	}
}
