package control

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCanonical: Canonical never panics, its output is valid JSON, and it
// is a fixed point (the canonical form of a canonical form is itself), so
// the signer's and the agent's map versions agree whoever canonicalises.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"b":[1,2.50,-3e2],"a":{"y":null,"x":"<&>"}}`,
		`{"modbusMaps":{"A":[{"name":"v","address":"1.3"}]},"modbusSlaves":[]}`,
		`"\u00e9\ud83d\ude00"`, `[]`, `0`, `{`, ``, `{"a":1} {"b":2}`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Canonical(data)
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("Canonical(%q) = %q is not valid JSON", data, c)
		}
		again, err := Canonical(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("not a fixed point: %q -> %q -> %q (%v)", data, c, again, err)
		}
		v1, err1 := MapVersion(data)
		v2, err2 := MapVersion(c)
		if err1 != nil || err2 != nil || v1 != v2 {
			t.Fatalf("versions differ: %s (%v) and %s (%v)", v1, err1, v2, err2)
		}
	})
}
