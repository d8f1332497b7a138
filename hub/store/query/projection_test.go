package query

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const projDoc = `{"_id":"p1","a":1,"b":{"c":2,"d":3},"arr":[{"c":1,"d":2},{"d":3},5,[{"c":9}]],"e":"x"}`

func TestProjectionApply(t *testing.T) {
	cases := []struct {
		proj string
		want string
	}{
		{`{"a":1}`, `{"_id":"p1","a":1}`},
		{`{"a":true,"_id":0}`, `{"a":1}`},
		{`{"b.c":1}`, `{"_id":"p1","b":{"c":2}}`},
		{`{"b.c":1,"b.d":1,"e":1}`, `{"_id":"p1","b":{"c":2,"d":3},"e":"x"}`},
		// Through arrays: object elements are projected, scalars dropped,
		// nested arrays traversed.
		{`{"arr.c":1}`, `{"_id":"p1","arr":[{"c":1},{},[{"c":9}]]}`},
		{`{"e.c":1}`, `{"_id":"p1"}`},
		{`{"b.x":1}`, `{"_id":"p1","b":{}}`},
		{`{"missing":1}`, `{"_id":"p1"}`},
		{`{"_id":1}`, `{"_id":"p1"}`},
		{`{"a":0}`, `{"_id":"p1","b":{"c":2,"d":3},"arr":[{"c":1,"d":2},{"d":3},5,[{"c":9}]],"e":"x"}`},
		{`{"a":false,"_id":1}`, `{"_id":"p1","b":{"c":2,"d":3},"arr":[{"c":1,"d":2},{"d":3},5,[{"c":9}]],"e":"x"}`},
		{`{"b.c":0,"e":0}`, `{"_id":"p1","a":1,"b":{"d":3},"arr":[{"c":1,"d":2},{"d":3},5,[{"c":9}]]}`},
		{`{"arr.c":0}`, `{"_id":"p1","a":1,"b":{"c":2,"d":3},"arr":[{"d":2},{"d":3},5,[{}]],"e":"x"}`},
		{`{"_id":0}`, `{"a":1,"b":{"c":2,"d":3},"arr":[{"c":1,"d":2},{"d":3},5,[{"c":9}]],"e":"x"}`},
		{`{}`, projDoc},
		{`null`, projDoc},
	}
	for _, c := range cases {
		p, err := ParseProjection([]byte(c.proj))
		if err != nil {
			t.Errorf("ParseProjection(%s): %v", c.proj, err)
			continue
		}
		doc := decode(t, projDoc)
		got := p.Apply(doc)
		if want := decode(t, c.want); !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			t.Errorf("%s applied = %s, want %s", c.proj, gj, c.want)
		}
		if !reflect.DeepEqual(doc, decode(t, projDoc)) {
			t.Errorf("%s modified the input document", c.proj)
		}
	}
}

func TestProjectionErrors(t *testing.T) {
	cases := []struct {
		proj any
		want string
	}{
		{`{"a":1,"b":0}`, `cannot mix inclusion and exclusion`},
		{`{"a":1,"a.b":1}`, `path collision at "a.b"`},
		{`{"a.b":1,"a":1}`, `path collision`},
		{`{"a.b":0,"a.b.c":0}`, `path collision`},
		{`{"a":{"$slice":1}}`, `projection operators are not supported`},
		{`{"a":"x"}`, `projection values must be 0/1 or true/false`},
		{`{"a.$":1}`, `"$" is not supported`},
		{`{"a..b":1}`, `empty field name`},
		{`{`, `invalid JSON`},
		{`[1]`, `projection must be an object`},
		{5, `projection must be an object, not a number`},
	}
	for _, c := range cases {
		v := c.proj
		if s, ok := v.(string); ok {
			v = []byte(s)
		}
		_, err := ParseProjection(v)
		if err == nil || !errors.Is(err, ErrBadProjection) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseProjection(%v) error = %v, want %q", c.proj, err, c.want)
		}
	}
}

func TestProjectionNil(t *testing.T) {
	var p *Projection
	doc := map[string]any{"a": 1.0}
	if got := p.Apply(doc); !reflect.DeepEqual(got, doc) {
		t.Errorf("nil projection changed the document: %v", got)
	}
	if p, err := ParseProjection(map[string]any{"a": 1}); err != nil || p == nil {
		t.Errorf("ParseProjection(map) = %v, %v", p, err)
	}
}
