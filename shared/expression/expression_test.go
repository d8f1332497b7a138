package expression

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedEnv is the context of the seed's "Examples of JEXL expressions".
func seedEnv() map[string]any {
	return map[string]any{
		"value":  6,
		"ts":     int64(1637245214901),
		"name":   "DevId629",
		"object": map[string]any{"name": "John", "surname": "Doe"},
		"array":  []any{1, 3},
	}
}

func evalOK(t *testing.T, src string, env map[string]any) any {
	t.Helper()
	p, err := Compile(src, Options{Location: time.UTC})
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	got, err := p.Eval(env)
	if err != nil {
		t.Fatalf("Eval(%q): %v", src, err)
	}
	return got
}

func TestSeedExamples(t *testing.T) {
	tests := []struct {
		src  string
		env  map[string]any
		want any
	}{
		// "Examples of JEXL expressions".
		{"5 * value", seedEnv(), 30.0},
		{"(6 + value) * 3", seedEnv(), 36.0},
		{"value / 12 + 1", seedEnv(), 1.5},
		{"(5 + 2) * (value + 7)", seedEnv(), 91.0},
		// The seed's table rounds to 31.2; JavaScript (and JEXL) give this.
		{"value * 5.2", seedEnv(), 31.200000000000003},
		{`"Pruebas " + "De Strings"`, seedEnv(), "Pruebas De Strings"},
		// The seed's table shows a space after the name; the expression has none.
		{`name + "value is " +value`, seedEnv(), "DevId629value is 6"},
		{"{coordinates: [value,value], type: 'Point'}", seedEnv(), map[string]any{"coordinates": []any{6.0, 6.0}, "type": "Point"}},
		{"ts|toisodate", seedEnv(), "2021-11-18T14:20:14.901Z"},
		{`" a "| trim`, seedEnv(), "a"},
		{"name|length", seedEnv(), 8.0},
		{`name|indexOf("e")`, seedEnv(), 1.0},
		{`name|substr(0,name|indexOf("e")+1)`, seedEnv(), "De"},
		// "Measurement transformation" examples.
		{"{coordinates: [longitude,latitude], type: 'Point'}", map[string]any{"longitude": 5, "latitude": 37, "level": 223},
			map[string]any{"coordinates": []any{5.0, 37.0}, "type": "Point"}},
		{"level / 100", map[string]any{"latitude": 1.9, "level": 85.3}, 0.853},
		{"longitude+', '+latitude", map[string]any{"longitude": 5, "latitude": 1.9}, "5, 1.9"},
		{"spaces | trim", map[string]any{"spaces": "  foobar  "}, "foobar"},
		// "Expressions with multiple transformations".
		{"variable | trim | replacestr('hello','hi')", map[string]any{"variable": "hello world"}, "hi world"},
		{"location | split(', ')[1] | parsefloat()", map[string]any{"location": "40.4165, -3.70256"}, -3.70256},
	}
	for _, tt := range tests {
		if got := evalOK(t, tt.src, tt.env); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

// transformCases has at least one example per transform of the seed's table
// (TestTransformTableCovered enforces it). Expected values come from Node.
var transformCases = []struct{ src, want string }{
	{`'{"b":1,"a":[1,2]}'|jsonparse`, `{"b":1,"a":[1,2]}`},
	{`{b: 1, a: "x<y>"}|jsonstringify`, `"{\"b\":1,\"a\":\"x<y>\"}"`},
	{`"DevId629"|indexOf("e")`, `1`},
	{`"abc"|indexOf("z")`, `-1`},
	{`"ñandú"|length`, `5`},
	{`"   a  "|trim`, `"a"`},
	{`"abcdef"|substr(-3, 2)`, `"de"`},
	{`[1, 2, 3.5]|addreduce`, `6.5`},
	{`["a", 1, 2]|addreduce`, `"a12"`},
	{`[1, 2, 3]|lengtharray`, `3`},
	{`null_|typeof`, `"undefined"`},
	{`[1]|typeof`, `"object"`},
	{`[1]|isarray`, `true`},
	{`"12abc"|isnan`, `true`},
	{`"12abc"|parseint`, `12`},
	{`"abc"|parseint`, `null`},
	{`"0x1f"|parseint`, `31`},
	{`"3.14abc"|parsefloat`, `3.14`},
	{`1637245214901|toisodate`, `"2021-11-18T14:20:14.901Z"`},
	{`"2021-11-18T14:20:14.901Z"|timeoffset`, `0`},
	{`12.5|tostring`, `"12.5"`},
	{`"a b/ñ?x=1#f"|urlencode`, `"a%20b/%C3%B1?x=1#f"`},
	{`"a%20b%2F%C3%B1"|urldecode`, `"a b%2Fñ"`},
	{`"a-b-c"|replacestr("-", "+")`, `"a+b-c"`},
	{`"a1b22"|replaceregexp("(\\d+)", "<$1>")`, `"a<1>b22"`},
	{`"a-b-c"|replaceallstr("-", "+")`, `"a+b+c"`},
	{`"a1b22"|replaceallregexp("\\d", "#")`, `"a#b##"`},
	{`"a,b,,c"|split(",")`, `["a","b","","c"]`},
	{`[1, null, "x"]|joinarrtostr("-")`, `"1--x"`},
	{`[1, 2]|concatarr([3, [4]])`, `[1,2,3,[4]]`},
	{`"on"|mapper(["off", "on"], [0, 1])`, `1`},
	{`"x"|mapper(["off", "on"], [0, 1])`, `null`},
	{`15|thmapper([10, 20, 30], ["low", "mid", "high"])`, `"mid"`},
	{`"0xf0"|bitwisemask(255, "&", 4)`, `15`},
	{`[1, 2, 3, 4]|slice(1, -1)`, `[2,3]`},
	{`[1, 2]|addset(3)`, `[1,2,3]`},
	{`[1, 2]|addset(2)`, `[1,2]`},
	{`[1, 2, 3]|removeset(2)`, `[1,3]`},
	{`"straße"|touppercase`, `"STRASSE"`},
	{`"ÀB"|tolowercase`, `"àb"`},
	{`-2.5|round`, `-2`},
	{`2.5|round`, `3`},
	{`-2.5|floor`, `-3`},
	{`2.1|ceil`, `3`},
	{`1.005|tofixed(2)`, `"1.00"`},
	{`2.5|tofixed(0)`, `"3"`},
	{`"2021-11-18T14:20:14.901Z"|gettime`, `1637245214901`},
	{`1637245214901|toisostring`, `"2021-11-18T14:20:14.901Z"`},
	{`1637245214901|localestring("es-ES", {timeZone: "Europe/Madrid"})`, `"18/11/2021, 15:20:14"`},
	{`1637245214901|localestring`, `"11/18/2021, 2:20:14 PM"`},
	{`0|now`, `1700000000000`},
	{`now()`, `1700000000000`},
	{`"48656c6c6f"|hextostring`, `"Hello"`},
	{`{a: "on", b: "off", c: "on"}|valuePicker("on")`, `["a","c"]`},
	{`{a: "on", b: "off", c: 1}|valuePickerMulti(["off", 1])`, `["b","c"]`},
	{`{a: "on", b: "off"}|valuepicker("off")`, `["b"]`},
	{`{a: "on", b: "off"}|valuepickermulti(["on"])`, `["a"]`},
	{`{a: "on", b: "off", c: "of"}|valuePickerMulti("offset")`, `["b","c"]`},
}

func TestTransformTable(t *testing.T) {
	fixed := time.UnixMilli(1700000000000)
	for _, tt := range transformCases {
		p, err := Compile(tt.src, Options{Location: time.UTC, Now: func() time.Time { return fixed }})
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.src, err)
			continue
		}
		got, err := p.EvalJSON(nil)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestTransformTableCovered(t *testing.T) {
	for _, name := range TransformNames() {
		found := false
		for _, tt := range transformCases {
			if strings.Contains(tt.src, "|"+name) || strings.HasPrefix(tt.src, name+"(") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("transform %s has no test case", name)
		}
	}
	if got := len(TransformNames()); got < 45 {
		t.Errorf("got %d transforms, want at least 45", got)
	}
}

func TestNumberToString(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{3, "3"}, {-3, "-3"}, {0.30000000000000004, "0.30000000000000004"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"},
		{123e-20, "1.23e-18"}, {1e-7, "1e-7"}, {1.5e-7, "1.5e-7"}, {0.000001, "0.000001"}, {math.Copysign(0, -1), "0"},
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{5e-324, "5e-324"}, {123456.789, "123456.789"}, {2 << 60, "2305843009213694000"}, {1 / 3.0, "0.3333333333333333"},
	}
	for _, tt := range tests {
		if got := numberToString(tt.in); got != tt.want {
			t.Errorf("numberToString(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestToFixed(t *testing.T) {
	tests := []struct {
		x    float64
		d    int
		want string
	}{
		{1.005, 2, "1.00"}, {2.5, 0, "3"}, {-2.5, 0, "-3"}, {0.5, 0, "1"}, {1.5, 0, "2"}, {1.45, 1, "1.4"},
		{1.25, 1, "1.3"}, {8.345, 2, "8.35"}, {-0.0001, 2, "-0.00"}, {math.Copysign(0, -1), 2, "0.00"},
		{1e21, 2, "1e+21"}, {123.456, 0, "123"}, {0.000001, 7, "0.0000010"}, {1e-10, 20, "0.00000000010000000000"},
		{math.NaN(), 2, "NaN"}, {math.Inf(-1), 1, "-Infinity"},
	}
	for _, tt := range tests {
		if got := toFixed(tt.x, tt.d); got != tt.want {
			t.Errorf("toFixed(%v, %d) = %q, want %q", tt.x, tt.d, got, tt.want)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	for _, tt := range []struct {
		fn   func(string) float64
		in   string
		want float64
	}{
		{parseIntJS, "12abc", 12}, {parseIntJS, "  -0x1A", -26}, {parseIntJS, "1e21", 1}, {parseIntJS, "+7.9", 7},
		{parseFloatJS, "1e3x", 1000}, {parseFloatJS, "-.5", -0.5}, {parseFloatJS, "-Infinity", math.Inf(-1)}, {parseFloatJS, "1.e2", 100},
		{stringToNumber, " 42 ", 42}, {stringToNumber, "", 0}, {stringToNumber, "0b101", 5}, {stringToNumber, "0o17", 15},
		{stringToNumber, "1_000", math.NaN()}, {stringToNumber, "-0x10", math.NaN()}, {stringToNumber, "Infinity", math.Inf(1)}, {stringToNumber, "inf", math.NaN()},
	} {
		got := tt.fn(tt.in)
		if got != tt.want && !(got != got && tt.want != tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := parseIntJS("abc"); got == got {
		t.Errorf("parseint(abc) = %v, want NaN", got)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		src      string
		pos      int
		sentinel error
	}{
		{"1 +", 3, nil},
		{"a b", 2, nil},
		{"'abc", 0, nil},
		{`x + "abc`, 4, nil},
		{"@x", 0, nil},
		{"{a 1}", 3, nil},
		{"a.", 2, nil},
		{"1 = 1", 2, nil},
		{"value|nosuch", 6, ErrUnknownTransform},
		{`name|substr(0, name|nosuch("e"))`, 20, ErrUnknownTransform},
		{"[1, 2", 5, nil},
		{"a[.x", 4, nil},
		{"a ? b", 5, nil},
		{"(", 1, nil},
		{"", 0, nil},
		{"   ", 0, nil},
		{"a ||| b", 4, nil},
		{`"a|b" | | trim`, 8, nil},
		{"€ + 1", 0, nil},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src, Options{})
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q): got %v, want *SyntaxError", tt.src, err)
			continue
		}
		if se.Pos != tt.pos {
			t.Errorf("Compile(%q): got position %d (%v), want %d", tt.src, se.Pos, err, tt.pos)
		}
		if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
			t.Errorf("Compile(%q): got %v, want errors.Is %v", tt.src, err, tt.sentinel)
		}
		if !strings.HasPrefix(err.Error(), "expression: ") || !strings.HasSuffix(err.Error(), " at position "+itoa(tt.pos)) {
			t.Errorf("Compile(%q): error %q has the wrong format", tt.src, err)
		}
	}
}

func itoa(i int) string { return numberToString(float64(i)) }

func TestJEXLQuirksKept(t *testing.T) {
	env := map[string]any{"a": []any{map[string]any{"x": 1}, map[string]any{"x": 2}}, "s": "abc", "v": 6}
	tests := []struct{ src, want string }{
		{"(v + 1", "7"},                       // an open parenthesis at the end is accepted
		{"a.x", "1"},                          // property of an array reads the first element
		{"a[.x == 2].x", "2"},                 // relative filter
		{"a[(.x == 2)]", "null"},              // parentheses make it a static filter on context.x
		{"s.length", "3"},                     // string length property
		{`'a\\b\\c'`, `"a\\b\\\\c"`},          // only the first \\ is unescaped
		{`"a\nb"|length`, "4"},                // no escapes besides quotes
		{"v ?: 1", "6"},                       // elvis
		{"1 || 0 && 0", "0"},                  // && and || share precedence
		{"2 * 3 % 2", "2"},                    // % binds tighter than *
		{"v|tostring + 1", `"61"`},            // transforms bind tighter than +
		{`"a|b"|split("|")|lengtharray`, "2"}, // pipes inside strings are text
	}
	for _, tt := range tests {
		p, err := Compile(tt.src, Options{})
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.src, err)
			continue
		}
		got, err := p.EvalJSON(env)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %s, %v, want %s", tt.src, got, err, tt.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	env := map[string]any{"n": nil, "s": "abc", "d": "not a date"}
	tests := []struct {
		src      string
		pos      int
		sentinel error
	}{
		{"n|tostring", 2, ErrTypeError},
		{"d|toisodate", 2, ErrRangeError},
		{"1|replacestr('a', 'b')", 2, ErrTypeError},
		{"'{bad'|jsonparse", 7, ErrSyntaxError},
		{"'%E0%A4%A'|urldecode", 11, ErrURIError},
		{"[]|addreduce", 3, ErrTypeError},
		{"1|tofixed(101)", 2, ErrRangeError},
		{"n[0]", 1, ErrTypeError},
		{"s|replaceregexp('(?=a)', 'x')", 2, ErrSyntaxError},
	}
	for _, tt := range tests {
		p, err := Compile(tt.src, Options{})
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.src, err)
			continue
		}
		_, err = p.Eval(env)
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Errorf("%s: got %v, want *EvalError", tt.src, err)
			continue
		}
		if ee.Pos != tt.pos || !errors.Is(err, tt.sentinel) {
			t.Errorf("%s: got %v (pos %d), want %v at %d", tt.src, err, ee.Pos, tt.sentinel, tt.pos)
		}
	}
}

func TestLimits(t *testing.T) {
	p, err := Compile("s + s + s + s + s + s + s + s + s", Options{MaxStringLen: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Eval(map[string]any{"s": strings.Repeat("x", 200)})
	if !errors.Is(err, ErrLimit) {
		t.Errorf("concatenation: got %v, want ErrLimit", err)
	}
	p, err = Compile(`s|replaceallstr("", s)`, Options{MaxStringLen: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = p.Eval(map[string]any{"s": strings.Repeat("x", 1000)}); !errors.Is(err, ErrLimit) {
		t.Errorf("replaceallstr blow-up: got %v, want ErrLimit", err)
	}
	// JavaScript has no string repetition: "a" * 1e9 is NaN, not a big string.
	if got := evalOK(t, `"a" * 1000000000`, nil); got == got {
		t.Errorf(`"a" * 1000000000: got %v, want NaN`, got)
	}
	if _, err := Compile(strings.Repeat("1+", 20)+"1", Options{MaxNodes: 10}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxNodes: got %v, want ErrLimit", err)
	}
	if _, err := Compile(strings.Repeat(" ", 100)+"1", Options{MaxLength: 50}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxLength: got %v, want ErrLimit", err)
	}
	if _, err := Compile(strings.Repeat("(", 5000)+"1", Options{}); !errors.Is(err, ErrLimit) {
		t.Errorf("nesting: got %v, want ErrLimit", err)
	}
	if _, err := Compile(strings.Repeat("!", 5000)+"1", Options{}); !errors.Is(err, ErrLimit) {
		t.Errorf("unary nesting: got %v, want ErrLimit", err)
	}
}

func TestVars(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"longitude+', '+latitude", []string{"longitude", "latitude"}},
		{"level / 100", []string{"level"}},
		{`name|substr(0,name|indexOf("e")+1)`, []string{"name"}},
		{"objs[.a == x].b", []string{"objs", "x"}},
		{"{coordinates: [longitude,latitude], type: 'Point'}", []string{"longitude", "latitude"}},
		{"1 + 2", nil},
		{".top + a.b", []string{"top", "a"}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.src, Options{})
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		if got := p.Vars(); !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("Vars(%q) = %q, want %q", tt.src, got, tt.want)
		}
		if p.Source() != tt.src {
			t.Errorf("Source() = %q, want %q", p.Source(), tt.src)
		}
	}
}

func TestUndefinedVariables(t *testing.T) {
	env := map[string]any{"n": nil}
	tests := []struct {
		src  string
		want any
	}{
		{"missing", nil},
		{`missing + ""`, "undefined"},
		{`n + ""`, "null"},
		{"missing == n", true},
		{"missing.deep.er", nil},
		{"missing|typeof", "undefined"},
		{"n|typeof", "object"},
		{"missing < 1 || missing >= 1", false},
		{"{a: missing, b: 1}", map[string]any{"b": 1.0}},
		{"[missing]", []any{nil}},
	}
	for _, tt := range tests {
		if got := evalOK(t, tt.src, env); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

type reading struct {
	Voltage float64 `json:"voltage"`
	Phase   string  `json:"phase"`
}

func TestGoEnvValues(t *testing.T) {
	env := map[string]any{
		"i": 7, "i64": int64(-3), "u16": uint16(65535), "f32": float32(0.5), "num": json.Number("1.25"),
		"ints": []int{1, 2, 3}, "strs": []string{"a", "b"}, "m": map[string]int{"x": 1},
		"st": reading{Voltage: 230.1, Phase: "L1"}, "ptr": &reading{Voltage: 1, Phase: "L2"},
		"when": time.Date(2021, 11, 18, 14, 20, 14, 901e6, time.UTC),
	}
	tests := []struct {
		src  string
		want any
	}{
		{"i + i64 + u16 + f32 + num", 65540.75},
		{"ints|addreduce", 6.0},
		{"ints[1] + m.x", 3.0},
		{"strs|joinarrtostr('+')", "a+b"},
		{"st.voltage + ptr.voltage", 231.1},
		{"ptr.phase", "L2"},
		{"when|gettime", 1637245214901.0},
		{"ints", []any{1.0, 2.0, 3.0}},
		{"m", map[string]any{"x": 1.0}},
	}
	for _, tt := range tests {
		if got := evalOK(t, tt.src, env); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

func TestEnvIsReadOnly(t *testing.T) {
	arr := []any{1.0, 2.0}
	obj := map[string]any{"k": []any{"x"}}
	env := map[string]any{"arr": arr, "obj": obj}
	for _, src := range []string{"arr|addset(3)", "arr|concatarr([9])", "arr|removeset(1)", "arr|slice(0)", "obj", "arr"} {
		got := evalOK(t, src, env)
		if a, ok := got.([]any); ok && len(a) > 0 {
			a[0] = "mutated"
		}
		if m, ok := got.(map[string]any); ok {
			m["k"] = "mutated"
		}
	}
	if !reflect.DeepEqual(arr, []any{1.0, 2.0}) || !reflect.DeepEqual(obj, map[string]any{"k": []any{"x"}}) {
		t.Errorf("env was modified: arr=%v obj=%v", arr, obj)
	}
}

func TestEvalJSONFunction(t *testing.T) {
	got, err := EvalJSON("{type: 'Point', coordinates: [lon, lat], n: 0/0, u: missing}", []byte(`{"lon": 5, "lat": 37.5}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"Point","coordinates":[5,37.5],"n":null}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	got, err = EvalJSON("missing", []byte(`{}`))
	if err != nil || string(got) != "null" {
		t.Errorf("undefined: got %s, %v, want null", got, err)
	}
	got, err = EvalJSON(`o|jsonstringify`, []byte(`{"o": {"z": 1, "a": [true, null], "2": "two"}}`))
	if want := `"{\"2\":\"two\",\"z\":1,\"a\":[true,null]}"`; err != nil || string(got) != want {
		t.Errorf("key order: got %s, %v, want %s", got, err, want)
	}
	if _, err := EvalJSON("1", []byte(`[1]`)); err == nil {
		t.Error("array context: got nil error")
	}
	if _, err := EvalJSON("1", []byte(`{`)); err == nil {
		t.Error("bad context: got nil error")
	}
}

func TestEvalConvenience(t *testing.T) {
	got, err := Eval("value * 0.1 + 3", map[string]any{"value": 220})
	if err != nil || got != 25.0 {
		t.Errorf("got %v, %v, want 25", got, err)
	}
	if _, err := Eval("1 +", nil); err == nil {
		t.Error("got nil error for a syntax error")
	}
}

func TestConcurrentEval(t *testing.T) {
	p, err := Compile("location | split(', ')[1] | parsefloat() + value * 2", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				got, err := p.Eval(map[string]any{"location": "1, 2.5", "value": g + i})
				if want := 2.5 + float64(2*(g+i)); err != nil || got != want {
					t.Errorf("got %v, %v, want %v", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestLocation(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	p, err := Compile(`d|timeoffset + "|" + (d|localestring("es-ES")) + "|" + ("2021-11-18T14:20:14"|toisodate)`, Options{Location: madrid})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Eval(map[string]any{"d": "2021-07-01T00:00:00Z"})
	if want := "-120|1/7/2021, 2:00:00|2021-11-18T13:20:14.000Z"; err != nil || got != want {
		t.Errorf("got %v, %v, want %v", got, err, want)
	}
}
