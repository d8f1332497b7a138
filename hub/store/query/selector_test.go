package query

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// decode parses a JSON object for tests.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// corpus returns the documents the selector cases run against.
func corpus(t testing.TB) []map[string]any {
	docs := []map[string]any{
		decode(t, `{"_id":"d1","name":"alpha","n":1,"tags":["a","b"],
			"items":[{"sku":"x","qty":2},{"sku":"y","qty":5}],
			"meta":{"kind":"meter","level":3},"pos":[0,10]}`),
		decode(t, `{"_id":"d2","name":"Beta","n":2.5,"tags":["b","c"],
			"items":[{"sku":"z","qty":1}],"meta":{"kind":"sensor"},
			"nested":[[1,2],[3]],"pos":[5]}`),
		decode(t, `{"_id":"d3","name":"gamma","n":"10","tags":[],"meta":null,
			"_updated":"2024-03-01T00:00:00Z"}`),
		decode(t, `{"_id":"d4","n":null,"tags":"a","items":[],"arr":[1,[2,3]]}`),
		decode(t, `{"_id":"d5","name":"delta\nline","n":-7,"tags":["a",["a","b"]],
			"items":[{"sku":"x","qty":10},{"other":1}],"meta":{"kind":"meter","level":"3"}}`),
		decode(t, `{"_id":"d6","flag":true,"n":true,"items":[5,{"sku":"y"}],
			"meta":{"level":3,"kind":"meter","x":{"y":1}}}`),
	}
	docs[0]["_updated"] = date("2024-01-01T00:00:00Z")
	docs[1]["_updated"] = date("2024-06-01T00:00:00Z")
	docs[4]["_updated"] = date("2025-01-01T00:00:00Z")
	return docs
}

func matchingIDs(t *testing.T, sel *Selector, docs []map[string]any) []string {
	t.Helper()
	var ids []string
	for _, d := range docs {
		if sel.Match(d) {
			ids = append(ids, d["_id"].(string))
		}
	}
	return ids
}

func TestSelectorMatch(t *testing.T) {
	all := []string{"d1", "d2", "d3", "d4", "d5", "d6"}
	cases := []struct {
		sel  string
		want []string
	}{
		{`{}`, all},
		{`{"$comment":"ignored","name":"alpha"}`, []string{"d1"}},

		// Implicit equality, array containment, whole-array/subdocument equality.
		{`{"name":"alpha"}`, []string{"d1"}},
		{`{"name":"ALPHA"}`, nil},
		{`{"n":1}`, []string{"d1"}},
		{`{"n":1.0}`, []string{"d1"}},
		{`{"n":"10"}`, []string{"d3"}},
		{`{"n":10}`, nil},
		{`{"tags":"a"}`, []string{"d1", "d4", "d5"}},
		{`{"tags":"c"}`, []string{"d2"}},
		{`{"tags":"b"}`, []string{"d1", "d2"}}, // d5 has "b" only in a nested array
		{`{"tags":["a","b"]}`, []string{"d1", "d5"}},
		{`{"tags":["b","a"]}`, nil}, // array equality is ordered
		{`{"tags":[]}`, []string{"d3"}},
		{`{"meta":{"kind":"sensor"}}`, []string{"d2"}},
		{`{"meta":{"kind":"meter"}}`, nil}, // subdocument equality needs every field
		{`{"meta":{"kind":"meter","level":3}}`, []string{"d1"}},
		{`{"meta.x":{"y":1}}`, []string{"d6"}},

		// Dotted paths through objects, arrays of objects and indexes.
		{`{"meta.kind":"meter"}`, []string{"d1", "d5", "d6"}},
		{`{"meta.level":3}`, []string{"d1", "d6"}},
		{`{"meta.level":"3"}`, []string{"d5"}},
		{`{"meta.x.y":1}`, []string{"d6"}},
		{`{"items.sku":"x"}`, []string{"d1", "d5"}},
		{`{"items.sku":"y"}`, []string{"d1", "d6"}},
		{`{"items.qty":{"$gt":4}}`, []string{"d1", "d5"}},
		{`{"items.0.sku":"x"}`, []string{"d1", "d5"}},
		{`{"items.1.sku":"y"}`, []string{"d1", "d6"}},
		{`{"items.0":5}`, []string{"d6"}},
		{`{"pos.1":10}`, []string{"d1"}},
		{`{"pos.0":5}`, []string{"d2"}},
		{`{"pos.0":{"$exists":true}}`, []string{"d1", "d2"}},
		{`{"nested.0":1}`, []string{"d2"}}, // positional element [1,2] contains 1
		{`{"nested":1}`, nil},              // only one level of array expansion
		{`{"nested":[3]}`, []string{"d2"}}, // an element equals [3]
		{`{"arr":2}`, nil},
		{`{"arr":1}`, []string{"d4"}},
		{`{"arr":[2,3]}`, []string{"d4"}},

		// null and missing fields.
		{`{"name":null}`, []string{"d4", "d6"}},
		{`{"n":null}`, []string{"d4"}},
		{`{"meta":null}`, []string{"d3", "d4"}},
		{`{"meta.kind":null}`, []string{"d3", "d4"}},
		{`{"items.sku":null}`, []string{"d3", "d5"}},
		{`{"items.sku":{"$exists":false}}`, []string{"d3", "d4"}},
		{`{"items.sku":{"$exists":true}}`, []string{"d1", "d2", "d5", "d6"}},
		{`{"name":{"$exists":false}}`, []string{"d4", "d6"}},
		{`{"meta":{"$exists":true}}`, []string{"d1", "d2", "d3", "d5", "d6"}},
		{`{"flag":{"$exists":1}}`, []string{"d6"}},
		{`{"n":{"$ne":1}}`, []string{"d2", "d3", "d4", "d5", "d6"}},
		{`{"name":{"$ne":"alpha"}}`, []string{"d2", "d3", "d4", "d5", "d6"}},
		{`{"tags":{"$ne":"a"}}`, []string{"d2", "d3", "d6"}},
		{`{"name":{"$eq":null}}`, []string{"d4", "d6"}},

		// $in / $nin.
		{`{"n":{"$in":[1,"10"]}}`, []string{"d1", "d3"}},
		{`{"n":{"$in":[null]}}`, []string{"d4"}},
		{`{"name":{"$in":[null,"gamma"]}}`, []string{"d3", "d4", "d6"}},
		{`{"tags":{"$in":["c",[]]}}`, []string{"d2", "d3"}},
		{`{"n":{"$in":[]}}`, nil},
		{`{"n":{"$nin":[1,2.5]}}`, []string{"d3", "d4", "d5", "d6"}},
		{`{"name":{"$nin":["alpha"]}}`, []string{"d2", "d3", "d4", "d5", "d6"}},
		{`{"meta":{"$in":[{"kind":"sensor"}]}}`, []string{"d2"}},

		// Comparisons with type bracketing.
		{`{"n":{"$gt":0}}`, []string{"d1", "d2"}},
		{`{"n":{"$lt":0}}`, []string{"d5"}},
		{`{"n":{"$gte":1,"$lte":2.5}}`, []string{"d1", "d2"}},
		{`{"n":{"$gt":"1"}}`, []string{"d3"}},
		{`{"name":{"$lt":"b"}}`, []string{"d1", "d2"}}, // bytewise: "B" < "b"
		{`{"name":{"$gte":"a"}}`, []string{"d1", "d3", "d5"}},
		{`{"n":{"$gte":null}}`, []string{"d4"}},
		{`{"name":{"$lte":null}}`, []string{"d4", "d6"}},
		{`{"n":{"$gt":null}}`, nil},
		{`{"pos":{"$gt":4}}`, []string{"d1", "d2"}},
		{`{"pos":{"$lt":1}}`, []string{"d1"}},
		{`{"pos":{"$gt":4,"$lt":6}}`, []string{"d1", "d2"}}, // different elements may satisfy each
		// An array operand compares with whole arrays, lexicographically
		// ("Comparison/Sort Order", MongoDB manual): [0,10] < [4] < [5].
		{`{"pos":{"$gt":[4]}}`, []string{"d2"}},
		{`{"flag":{"$gt":false}}`, []string{"d6"}},
		{`{"flag":{"$gt":0}}`, nil},
		{`{"meta":{"$gt":{}}}`, []string{"d1", "d2", "d5", "d6"}},

		// Dates: time.Time values; date-looking strings stay strings.
		{`{"_updated":{"$gt":{"$date":"2024-02-01T00:00:00Z"}}}`, []string{"d2", "d5"}},
		{`{"_updated":{"$lt":{"$date":1735689600000}}}`, []string{"d1", "d2"}},
		{`{"_updated":{"$date":"2024-01-01T00:00:00Z"}}`, []string{"d1"}},
		{`{"_updated":{"$gte":"2024-01-01"}}`, []string{"d3"}},
		{`{"_updated":{"$in":[{"$date":"2025-01-01T00:00:00Z"}]}}`, []string{"d5"}},

		// $regex.
		{`{"name":{"$regex":"^a"}}`, []string{"d1"}},
		{`{"name":{"$regex":"^b","$options":"i"}}`, []string{"d2"}},
		{`{"name":{"$regex":"^line$"}}`, nil},
		{`{"name":{"$regex":"^line$","$options":"m"}}`, []string{"d5"}},
		{`{"name":{"$regex":"delta.line"}}`, nil},
		{`{"name":{"$regex":"delta.line","$options":"s"}}`, []string{"d5"}},
		{`{"name":{"$regex":"a l p h a # comment","$options":"x"}}`, []string{"d1"}},
		{`{"name":{"$regex":"[ ]","$options":"x"}}`, nil},
		{`{"name":"/alpha/"}`, nil}, // a /pattern/ string is just a string
		{`{"tags":{"$regex":"^c"}}`, []string{"d2"}},
		{`{"n":{"$regex":"1"}}`, []string{"d3"}}, // numbers never match a regex
		{`{"name":{"$not":{"$regex":"^a"}}}`, []string{"d2", "d3", "d4", "d5", "d6"}},

		// Logical operators.
		{`{"$or":[{"n":1},{"name":"gamma"}]}`, []string{"d1", "d3"}},
		{`{"$and":[{"tags":"a"},{"tags":"b"}]}`, []string{"d1"}},
		{`{"$nor":[{"tags":"a"},{"n":{"$type":"string"}}]}`, []string{"d2", "d6"}},
		{`{"n":{"$not":{"$gt":1}}}`, []string{"d1", "d3", "d4", "d5", "d6"}},
		{`{"$and":[{"$or":[{"n":1},{"n":2.5}]},{"meta.kind":"sensor"}]}`, []string{"d2"}},
		{`{"$or":[{"nope":1}],"name":"alpha"}`, nil},

		// $all.
		{`{"tags":{"$all":["a","b"]}}`, []string{"d1"}},
		{`{"tags":{"$all":[["a","b"]]}}`, []string{"d1", "d5"}},
		{`{"tags":{"$all":["a"]}}`, []string{"d1", "d4", "d5"}},
		{`{"tags":{"$all":[]}}`, nil},
		{`{"items":{"$all":[{"$elemMatch":{"sku":"x"}},{"$elemMatch":{"qty":{"$gt":8}}}]}}`, []string{"d5"}},

		// $elemMatch versus independent dotted conditions.
		{`{"items.sku":"x","items.qty":{"$gte":5}}`, []string{"d1", "d5"}},
		{`{"items":{"$elemMatch":{"sku":"x","qty":{"$gte":5}}}}`, []string{"d5"}},
		{`{"pos":{"$elemMatch":{"$gt":4,"$lt":6}}}`, []string{"d2"}},
		{`{"tags":{"$elemMatch":{"$eq":"c"}}}`, []string{"d2"}},
		{`{"tags":{"$elemMatch":{"$size":2}}}`, []string{"d5"}},
		{`{"items":{"$elemMatch":{"other":{"$exists":true}}}}`, []string{"d5"}},
		{`{"items":{"$elemMatch":{"$or":[{"qty":1},{"qty":10}]}}}`, []string{"d2", "d5"}},
		{`{"meta":{"$elemMatch":{"kind":"meter"}}}`, nil}, // not an array
		{`{"tags":{"$elemMatch":{}}}`, nil},               // no object elements
		{`{"items":{"$elemMatch":{}}}`, []string{"d1", "d2", "d5", "d6"}},

		// $size.
		{`{"tags":{"$size":2}}`, []string{"d1", "d2", "d5"}},
		{`{"tags":{"$size":0}}`, []string{"d3"}},
		{`{"nested":{"$size":2}}`, []string{"d2"}},
		{`{"nested.0":{"$size":2}}`, []string{"d2"}},
		{`{"items.sku":{"$size":1}}`, nil},

		// $type.
		{`{"n":{"$type":"string"}}`, []string{"d3"}},
		{`{"n":{"$type":2}}`, []string{"d3"}},
		{`{"n":{"$type":"double"}}`, []string{"d1", "d2", "d5"}},
		{`{"n":{"$type":"number"}}`, []string{"d1", "d2", "d5"}},
		{`{"n":{"$type":"int"}}`, nil}, // JSON numbers are doubles
		{`{"n":{"$type":"null"}}`, []string{"d4"}},
		{`{"name":{"$type":"null"}}`, nil}, // missing is not null here
		{`{"n":{"$type":"bool"}}`, []string{"d6"}},
		{`{"n":{"$type":["bool","string"]}}`, []string{"d3", "d6"}},
		{`{"tags":{"$type":"array"}}`, []string{"d1", "d2", "d3", "d5"}},
		{`{"tags":{"$type":"string"}}`, []string{"d1", "d2", "d4", "d5"}},
		{`{"meta":{"$type":"object"}}`, []string{"d1", "d2", "d5", "d6"}},
		{`{"_updated":{"$type":"date"}}`, []string{"d1", "d2", "d5"}},

		// $mod truncates towards zero.
		{`{"n":{"$mod":[2,1]}}`, []string{"d1"}},
		{`{"n":{"$mod":[2,-1]}}`, []string{"d5"}},
		{`{"n":{"$mod":[2,0]}}`, []string{"d2"}},
		{`{"pos":{"$mod":[5,0]}}`, []string{"d1", "d2"}},
	}
	docs := corpus(t)
	for _, c := range cases {
		sel, err := ParseSelector([]byte(c.sel))
		if err != nil {
			t.Errorf("ParseSelector(%s): %v", c.sel, err)
			continue
		}
		if got := matchingIDs(t, sel, docs); !slices.Equal(got, c.want) {
			t.Errorf("%s matched %v, want %v", c.sel, got, c.want)
		}
	}
}

// TestNullThroughArrays reproduces MongoDB's jstests/core/null2.js: a null
// query on a path through an array matches only when an object element lacks
// the field; scalar elements and empty arrays contribute nothing.
func TestNullThroughArrays(t *testing.T) {
	docs := []map[string]any{
		decode(t, `{"_id":"1","a":[{"b":5}]}`),
		decode(t, `{"_id":"2","a":[{}]}`),
		decode(t, `{"_id":"3","a":[]}`),
		decode(t, `{"_id":"4","a":[{},{"b":5}]}`),
		decode(t, `{"_id":"5","a":[5,{"b":5}]}`),
	}
	for _, q := range []string{`{"a.b":null}`, `{"a.b":{"$in":[null]}}`} {
		sel, err := ParseSelector([]byte(q))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := matchingIDs(t, sel, docs), []string{"2", "4"}; !slices.Equal(got, want) {
			t.Errorf("%s matched %v, want %v", q, got, want)
		}
	}
}

func TestCompileSelectorGoValues(t *testing.T) {
	// Selectors built in Go may use Go integers and time.Time directly.
	sel, err := CompileSelector(map[string]any{
		"n":        map[string]any{"$gte": 1, "$lt": int64(3)},
		"_updated": map[string]any{"$gte": date("2024-01-01T00:00:00Z")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := matchingIDs(t, sel, corpus(t)), []string{"d1", "d2"}; !slices.Equal(got, want) {
		t.Errorf("matched %v, want %v", got, want)
	}
	var nilSel *Selector
	if !nilSel.Match(map[string]any{}) {
		t.Error("nil selector should match everything")
	}
	empty, err := CompileSelector(nil)
	if err != nil || !empty.Match(nil) {
		t.Errorf("CompileSelector(nil) = %v; should match", err)
	}
}

func TestSelectorErrors(t *testing.T) {
	cases := []struct {
		sel  string
		want string
	}{
		{`{"a.b":{"$foo":1}}`, `bad selector: unknown operator "$foo" at "a.b"`},
		{`{"x":{"$in":5}}`, `$in needs an array at "x"`},
		{`{"x":{"$nin":"a"}}`, `$nin needs an array at "x"`},
		{`{"name":{"$regex":"("}}`, `$regex: invalid pattern`},
		{`{"name":{"$regex":"(?=a)b"}}`, `at "name"`},
		{`{"name":{"$regex":5}}`, `$regex needs a string`},
		{`{"name":{"$regex":"a","$options":"q"}}`, `invalid option 'q'`},
		{`{"name":{"$options":"i"}}`, `$options needs a $regex at "name"`},
		{`{"$foo":1}`, `unknown top-level operator "$foo"`},
		{`{"$not":{"a":1}}`, `unknown top-level operator "$not"`},
		{`{"$where":"this.a"}`, `"$where" is not supported`},
		{`{"$and":[]}`, `$and needs a non-empty array`},
		{`{"$or":{}}`, `$or needs an array`},
		{`{"$nor":[1]}`, `$nor entries must be objects`},
		{`{"a":{"$gt":1,"b":2}}`, `unknown operator "b" at "a"`},
		{`{"a":{"$size":-1}}`, `$size may not be negative`},
		{`{"a":{"$size":"2"}}`, `$size needs a number`},
		{`{"a":{"$size":1.5}}`, `$size needs a whole number`},
		{`{"a":{"$mod":[0,1]}}`, `$mod divisor cannot be 0`},
		{`{"a":{"$mod":[1]}}`, `$mod needs an array [divisor, remainder]`},
		{`{"a":{"$type":"wat"}}`, `unknown type name "wat"`},
		{`{"a":{"$type":99}}`, `unknown type number 99`},
		{`{"a":{"$not":5}}`, `$not needs an operator object`},
		{`{"a":{"$not":{"b":1}}}`, `$not needs an operator object`},
		{`{"a":{"$near":[1,2]}}`, `"$near" is not supported at "a"`},
		{`{"a..b":1}`, `empty field name in path at "a..b"`},
		{`{"a.$":1}`, `must not start with $`},
		{`{"a":{"$all":[1,{"$elemMatch":{"b":1}}]}}`, `$all cannot mix values and $elemMatch`},
		{`{"a":{"$all":5}}`, `$all needs an array`},
		{`{"a":{"$in":[{"$gt":1}]}}`, `$in cannot contain operator objects`},
		{`{"a":{"$exists":"yes"}}`, `$exists needs a boolean`},
		{`{"a":{"$elemMatch":5}}`, `$elemMatch needs an object`},
		{`{"a":{"$elemMatch":{"b":{"$bad":1}}}}`, `unknown operator "$bad" at "a.b"`},
		{`{"a":{"$date":"yesterday"}}`, `$date needs`},
		{`{"$or":[{"x":{"$in":1}}]}`, `$in needs an array at "x"`},
		{`{`, `invalid JSON`},
		{`[1]`, `selector must be a JSON object, not an array`},
		{`null`, `selector must be a JSON object, not null`},
	}
	for _, c := range cases {
		_, err := ParseSelector([]byte(c.sel))
		if err == nil {
			t.Errorf("ParseSelector(%s) succeeded, want error %q", c.sel, c.want)
			continue
		}
		if !errors.Is(err, ErrBadSelector) {
			t.Errorf("ParseSelector(%s) error %v does not wrap ErrBadSelector", c.sel, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSelector(%s) error = %q, want it to contain %q", c.sel, err, c.want)
		}
	}
}

func TestSelectorIDs(t *testing.T) {
	cases := []struct {
		sel    string
		want   []string
		wantOK bool
	}{
		{`{"_id":"a"}`, []string{"a"}, true},
		{`{"_id":{"$eq":"a"},"x":1}`, []string{"a"}, true},
		{`{"_id":{"$in":["b","a","b"]}}`, []string{"b", "a"}, true},
		{`{"_id":{"$in":[]}}`, []string{}, true},
		{`{"_id":{"$in":["a","b"],"$ne":"a"}}`, []string{"a", "b"}, true},
		{`{"_id":{"$in":["a","b"],"$eq":"b"}}`, []string{"b"}, true},
		{`{"$and":[{"_id":{"$in":["a","b","c"]}},{"_id":{"$in":["c","b"]}}]}`, []string{"b", "c"}, true},
		{`{"_id":"a","$and":[{"_id":"b"}]}`, []string{}, true},
		{`{"$or":[{"_id":"a"},{"_id":{"$in":["b","a"]}}]}`, []string{"a", "b"}, true},
		{`{"$or":[{"_id":"a"},{"x":1}]}`, nil, false},
		{`{"_id":{"$gt":"a"}}`, nil, false},
		{`{"_id":5}`, nil, false},
		{`{"_id":{"$in":["a",5]}}`, nil, false},
		{`{"x":"a"}`, nil, false},
		{`{}`, nil, false},
	}
	for _, c := range cases {
		sel, err := ParseSelector([]byte(c.sel))
		if err != nil {
			t.Fatalf("%s: %v", c.sel, err)
		}
		got, ok := sel.IDs()
		if ok != c.wantOK || (ok && !slices.Equal(got, c.want)) {
			t.Errorf("%s IDs() = %v, %v; want %v, %v", c.sel, got, ok, c.want, c.wantOK)
		}
	}
}

func TestSelectorRange(t *testing.T) {
	t1, t2 := date("2024-01-01T00:00:00Z"), date("2024-06-01T00:00:00Z")
	cases := []struct {
		sel            string
		lo, hi         any
		loIncl, hiIncl bool
		ok             bool
	}{
		{`{"_updated":{"$gt":{"$date":"2024-01-01T00:00:00Z"}}}`, t1, nil, false, false, true},
		{`{"_updated":{"$gte":{"$date":"2024-01-01T00:00:00Z"},"$lt":{"$date":"2024-06-01T00:00:00Z"}}}`, t1, t2, true, false, true},
		{`{"$and":[{"n":{"$gt":1}},{"n":{"$gte":3}},{"n":{"$lte":9}},{"n":{"$lt":9}}]}`, 3.0, 9.0, true, false, true},
		{`{"n":{"$gt":3,"$gte":3}}`, 3.0, nil, false, false, true},
		{`{"n":5}`, 5.0, 5.0, true, true, true},
		{`{"n":{"$eq":"x"}}`, "x", "x", true, true, true},
		{`{"n":null}`, nil, nil, false, false, false},
		{`{"n":{"$in":[1,2]}}`, nil, nil, false, false, false},
		{`{"$or":[{"n":1}]}`, nil, nil, false, false, false},
		{`{"m":1}`, nil, nil, false, false, false},
	}
	for _, c := range cases {
		sel, err := ParseSelector([]byte(c.sel))
		if err != nil {
			t.Fatalf("%s: %v", c.sel, err)
		}
		field := "n"
		if strings.Contains(c.sel, "_updated") {
			field = "_updated"
		}
		lo, hi, li, hi2, ok := sel.Range(field)
		if ok != c.ok || !equalOrNil(lo, c.lo) || !equalOrNil(hi, c.hi) || li != c.loIncl || hi2 != c.hiIncl {
			t.Errorf("%s Range(%q) = %v, %v, %v, %v, %v; want %v, %v, %v, %v, %v",
				c.sel, field, lo, hi, li, hi2, ok, c.lo, c.hi, c.loIncl, c.hiIncl, c.ok)
		}
	}
}

func equalOrNil(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return equal(a, b)
}
