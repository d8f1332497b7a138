package iot

import (
	"testing"
)

// FuzzMeasures: any payload is decoded into measure objects or refused
// with WRONG_SYNTAX, never a panic or an empty success.
func FuzzMeasures(f *testing.F) {
	for _, s := range []string{`{"t":1}`, `[{"t":1},{"h":2}]`, `{"t":`, `42`, `[]`, `{}`, `[1]`, `[{}]`, `{"a":{"b":[1,2,{"c":null}]}}`, "\xff"} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte("21.5"), "t")
	f.Fuzz(func(t *testing.T, payload []byte, attr string) {
		objs, err := measures(Reading{Payload: payload, Attr: attr})
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Name != NameWrongSyntax || e.Code != 400 {
				t.Fatalf("measures(%q) error %v", payload, err)
			}
			return
		}
		if len(objs) == 0 {
			t.Fatalf("measures(%q) = no object and no error", payload)
		}
		for _, m := range objs {
			if len(m) == 0 && attr == "" {
				t.Fatalf("measures(%q): an empty object", payload)
			}
		}
	})
}
