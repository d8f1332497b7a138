package bolt

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// decodeReference is what decodeValue gave before fastDecode.
func decodeReference(data []byte) (any, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return unwrapDates(v), nil
}

// checkFast checks that fastDecode gives what encoding/json gives, or
// leaves the input to it.
func checkFast(t *testing.T, data []byte) {
	t.Helper()
	got, err := fastDecode(data)
	want, werr := decodeReference(data)
	switch {
	case errors.Is(err, errNotFast):
	case err != nil:
		t.Errorf("fastDecode(%q): error %v, want a value or errNotFast", data, err)
	case werr != nil:
		t.Errorf("fastDecode(%q) = %#v, but encoding/json refuses it: %v", data, got, werr)
	case !reflect.DeepEqual(got, want):
		t.Errorf("fastDecode(%q) = %#v, want %#v", data, got, want)
	}
}

func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	docs := []any{
		genDoc(1), genDoc(77),
		store.Document{"_id": "a", "s": `quote " and \ backslash`, "html": "<a&b>", "u": "žluť ✓ \u2028 🙂", "bad": "\xff\xfe",
			"n": 1.5, "big": 1.7976931348623157e308, "tiny": 5e-324, "neg": math.Copysign(0, -1), "int": 123456789012345678.0,
			"m": map[string]any{"p": map[string]any{"value": 3.0, "ts": ts}, "q": []any{1.0, "x", nil, true, false, []any{}, map[string]any{}}},
			"t": ts, "dates": []any{ts, map[string]any{"$date": "not a date"}, map[string]any{"$date": 5.0}, map[string]any{"$date": "2024-01-01T00:00:00Z", "x": 1.0}}},
		map[string]any{"weird\"key": 1.0, "tab\tkey": "v"},
		[]any{}, "plain", 0.0, nil,
	}
	for _, d := range docs {
		raw, err := encodeValue(d)
		if err != nil {
			t.Fatal(err)
		}
		checkFast(t, raw)
	}
	for _, s := range []string{
		`{"a":1}`, ` { "a" : [ 1 , 2 ] } `, `{"$date":"2024-05-01T10:00:00.5+02:00"}`, `{"$date":{"$date":"2024-05-01T10:00:00Z"}}`,
		`[1e5,1E-5,-0.5e+3,0,-0]`, `123456789012345678901234567890`, `1e400`, `01`, `1.`, `+1`, `.5`, `-`, `1e`, `0x10`, `1_000`,
		`{"a":1,"a":2}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`, `[1 2]`, `tru`, `nul`, `"abc`, `"a\u0041"`, "\"a\x01\"", `{"a":1}x`, ``, `  `,
		strings.Repeat("[", 300) + strings.Repeat("]", 300),
	} {
		checkFast(t, []byte(s))
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, d := range []any{genDoc(3), map[string]any{"t": time.Unix(0, 0).UTC(), "s": "x\"y", "a": []any{1.0, nil}}} {
		raw, _ := encodeValue(d)
		f.Add(raw)
	}
	f.Add([]byte(`{"$date":"2024-05-01T10:00:00Z"}`))
	f.Add([]byte(`[1e5,-0.5e+3,true,false,null,"\u00e9"]`))
	f.Fuzz(func(t *testing.T, data []byte) { checkFast(t, data) })
}
