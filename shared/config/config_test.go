package config

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	Name  string    `json:"name"`
	Count int       `json:"count,omitempty"`
	Small uint8     `json:"small,omitempty"`
	Ratio float64   `json:"ratio,omitempty"`
	Every Duration  `json:"every,omitempty"`
	Opt   *Duration `json:"opt,omitempty"`
	On    *bool     `json:"on,omitempty"`
}

type outer struct {
	Items []inner          `json:"items"`
	ByKey map[string]inner `json:"byKey,omitempty"`
	Tags  []string         `json:"tags,omitempty"`
	Any   any              `json:"any,omitempty"`
}

func TestDecodeStrictWithPaths(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error; none = success
	}{
		{"json ok", `{"items":[{"name":"a","count":2,"every":"5s","opt":3,"on":true}],"any":{"x":[1]}}`, nil},
		{"yaml ok", "items:\n  - name: a\n    every: 1m\nbyKey:\n  k: {name: b}\n", nil},
		{"unknown field", `{"items":[{"name":"a","colour":"red"}]}`, []string{"items[0].colour: unknown field (known fields: count, every, name, on, opt, ratio, small)"}},
		{"wrong type", `{"items":[{"name":1}]}`, []string{"items[0].name: want a string, got number 1"}},
		{"not whole", `{"items":[{"name":"a","count":1.5}]}`, []string{"items[0].count: want a whole number"}},
		{"out of range", `{"items":[{"name":"a","small":300}]}`, []string{"items[0].small: 300 is out of range 0..255"}},
		{"bad duration", `{"items":[{"name":"a","every":"soon"}]}`, []string{`items[0].every: want a duration like "10s"`}},
		{"bad pointer duration", `{"items":[{"name":"a","opt":"later"}]}`, []string{`items[0].opt: want a duration`}},
		{"map path", `{"items":[],"byKey":{"k":{"nam":"x"}}}`, []string{"byKey.k.nam: unknown field"}},
		{"every problem at once", `{"items":[{"name":2},{"x":1}],"tags":"a"}`, []string{"items[0].name", "items[1].x", "tags: want an array"}},
		{"empty", ``, []string{"config is empty"}},
		{"garbage", `{"items": [`, []string{"neither valid JSON nor valid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o outer
			err := Decode([]byte(tt.in), &o)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode: no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	var o outer
	if err := Decode([]byte(`{"items":[{"name":"a","every":"1m30s","opt":2.5,"on":false}]}`), &o); err != nil {
		t.Fatal(err)
	}
	it := o.Items[0]
	if it.Every.Std() != 90*time.Second || it.Opt == nil || it.Opt.Std() != 2500*time.Millisecond || it.On == nil || *it.On {
		t.Fatalf("decoded %+v", it)
	}
	if got := Duration(0).Or(time.Second); got != time.Second {
		t.Fatalf("Or: %v", got)
	}
}
