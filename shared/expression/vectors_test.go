package expression

import (
	"os"
	"testing"
	"time"
)

// extensions are expressions JEXL rejects that this package accepts on
// purpose (see the package documentation), with the result it gives.
var extensions = map[string]string{
	`{b: 1, a: 2, "10": 3}`: `{"10":3,"b":1,"a":2}`, // string keys in object literals
	`arr|slice(-2, -1)`:     `[1]`,                  // negative literal after a comma
	`-(1)`:                  `-1`,                   // unary minus on any operand
}

// TestJEXLVectors replays testdata/jexl_vectors.json: every expression was
// evaluated by real JEXL 2.3.0 with the seed's transform functions under
// Node 20 (see testdata/gen_vectors.js); want is JSON.stringify(result).
func TestJEXLVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/jexl_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseJSON(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	root := doc.(*object)
	contexts := root.m["contexts"].(*object)
	now := time.UnixMilli(int64(root.m["now"].(float64)))
	vectors := root.m["vectors"].([]any)
	if len(vectors) < 400 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	for _, v := range vectors {
		vec := v.(*object).m
		src := vec["expr"].(string)
		tz, err := time.LoadLocation(vec["tz"].(string))
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]any{}
		for k, val := range contexts.m[vec["ctx"].(string)].(*object).m {
			env[k] = val
		}
		t.Run(src, func(t *testing.T) {
			p, err := Compile(src, Options{Location: tz, Now: func() time.Time { return now }})
			var got []byte
			if err == nil {
				got, err = p.EvalJSON(env)
			}
			if want, ok := extensions[src]; ok {
				if err != nil || string(got) != want {
					t.Errorf("%s (extension): got %s, %v, want %s", src, got, err, want)
				}
				return
			}
			if vec["error"] == true {
				if err == nil {
					t.Errorf("%s: got %s, want an error (JS: %v)", src, got, vec["message"])
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: unexpected error %v, want %s", src, err, vec["want"])
			}
			if string(got) != vec["want"].(string) {
				t.Errorf("%s (tz %s): got %s, want %s", src, vec["tz"], got, vec["want"])
			}
		})
	}
}
