package federation

import (
	"errors"
	"testing"
)

func TestUnmarshalHistory(t *testing.T) {
	cases := []struct {
		name, data string
		ok         bool
	}{
		{"points", `{"origin":["a"],"op":"history","layer":"l","collection":"c","history":[{"id":"x","f":"measurements.v","t":1,"v":2.5,"q":1},{"id":"x","f":"measurements.s","t":1,"v":"on","q":1},{"id":"y","f":"m","t":2,"v":null,"q":0}]}`, true},
		{"no points", `{"origin":["a"],"op":"history","layer":"l","collection":"c"}`, false},
		{"no field", `{"origin":["a"],"op":"history","layer":"l","collection":"c","history":[{"id":"x","t":1,"v":1}]}`, false},
		{"no id", `{"origin":["a"],"op":"history","layer":"l","collection":"c","history":[{"f":"m","t":1,"v":1}]}`, false},
		{"a bool", `{"origin":["a"],"op":"history","layer":"l","collection":"c","history":[{"id":"x","f":"m","t":1,"v":true}]}`, false},
		{"an object", `{"origin":["a"],"op":"history","layer":"l","collection":"c","history":[{"id":"x","f":"m","t":1,"v":{"a":1}}]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Unmarshal([]byte(c.data))
			if c.ok {
				if err != nil || len(got.History) != 3 {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, errBadChange) {
				t.Fatalf("got %v, want errBadChange", err)
			}
		})
	}
}
