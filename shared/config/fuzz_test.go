package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode decodes arbitrary JSON or YAML strictly: it never panics, a
// rejected document says where (every field error has a message), and an
// accepted one survives a round trip through JSON unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"name":"a","count":2,"every":"5s","opt":3,"on":true}],"any":{"x":[1]}}`,
		"items:\n  - name: a\n    every: 1m\nbyKey:\n  k: {name: b}\n",
		`{"items":[{"name":"a","small":300,"ratio":1e308}]}`,
		"items: &a [{name: x}]\ntags: *a\n",
		"? [a]\n: b\n",
		`{"items":[{"name":"a","every":-9223372036854775808}]}`,
		"items:\n  - name: !!binary aGk=\n",
		"{", "", "null", "[]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var o outer
		err := Decode(data, &o)
		if err != nil {
			var es Errors
			if errors.As(err, &es) {
				for _, e := range es {
					if e.Msg == "" {
						t.Fatalf("field error without a message at %q", e.Path)
					}
				}
			}
			return
		}
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", o, err)
		}
		var again outer
		if err := Decode(raw, &again); err != nil {
			t.Fatalf("decode the re-encoded %s: %v", raw, err)
		}
		if !reflect.DeepEqual(o, again) {
			t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", again, o)
		}
	})
}
