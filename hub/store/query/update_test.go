package query

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func TestApplyUpdate(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		update  string
		want    string
		changed []string
	}{
		{"plain fields are $set", `{"_id":"u","a":1}`, `{"a":5,"b.c":1}`,
			`{"_id":"u","a":5,"b":{"c":1}}`, []string{"a", "b.c"}},
		{"$set same value", `{"_id":"u","a":1}`, `{"$set":{"a":1}}`, `{"_id":"u","a":1}`, nil},
		{"$set _id to itself", `{"_id":"u","a":1}`, `{"$set":{"_id":"u"}}`, `{"_id":"u","a":1}`, nil},
		{"$set array index", `{"arr":[1,2]}`, `{"$set":{"arr.1":"x"}}`, `{"arr":[1,"x"]}`, []string{"arr.1"}},
		{"$set pads with null", `{"arr":[1]}`, `{"$set":{"arr.3":9}}`, `{"arr":[1,null,null,9]}`, []string{"arr.3"}},
		{"$set into padded element", `{"arr":[]}`, `{"$set":{"arr.1.x":9}}`, `{"arr":[null,{"x":9}]}`, []string{"arr.1.x"}},
		{"$set object value", `{}`, `{"$set":{"o":{"k":[1,{"z":2}]}}}`, `{"o":{"k":[1,{"z":2}]}}`, []string{"o"}},
		{"$unset", `{"a":1,"b":2}`, `{"$unset":{"a":"","nope":"","b.c":1}}`, `{"b":2}`, []string{"a"}},
		{"$unset array element", `{"arr":[1,2]}`, `{"$unset":{"arr.0":1}}`, `{"arr":[null,2]}`, []string{"arr.0"}},
		{"$inc", `{"n":1}`, `{"$inc":{"n":2,"new":1.5,"sub.k":-1}}`, `{"n":3,"new":1.5,"sub":{"k":-1}}`, []string{"n", "new", "sub.k"}},
		{"$inc by zero", `{"n":1}`, `{"$inc":{"n":0}}`, `{"n":1}`, nil},
		{"$mul", `{"n":1.5}`, `{"$mul":{"n":3,"m":2}}`, `{"n":4.5,"m":0}`, []string{"m", "n"}},
		{"$min", `{"n":1,"s":"b"}`, `{"$min":{"n":0,"k":5,"s":"c"}}`, `{"n":0,"k":5,"s":"b"}`, []string{"k", "n"}},
		{"$min across types", `{"n":"x"}`, `{"$min":{"n":3}}`, `{"n":3}`, []string{"n"}},
		{"$max", `{"n":1}`, `{"$max":{"n":0}}`, `{"n":1}`, nil},
		{"$max date", `{"d":{"$date":"2024-01-01T00:00:00Z"}}`, `{"$max":{"d":{"$date":"2025-01-01T00:00:00Z"}}}`,
			`{"d":{"$date":"2025-01-01T00:00:00Z"}}`, []string{"d"}},
		{"$push", `{"arr":[1,2]}`, `{"$push":{"arr":3,"new":{"a":1}}}`, `{"arr":[1,2,3],"new":[{"a":1}]}`, []string{"arr", "new"}},
		{"$push array value", `{"arr":[1]}`, `{"$push":{"arr":[2,3]}}`, `{"arr":[1,[2,3]]}`, []string{"arr"}},
		{"$push $each $sort $slice", `{"arr":[1,2]}`, `{"$push":{"arr":{"$each":[5,0],"$sort":1,"$slice":-3}}}`,
			`{"arr":[1,2,5]}`, []string{"arr"}},
		{"$push $position", `{"arr":[1,2]}`, `{"$push":{"arr":{"$each":["a","b"],"$position":1}}}`,
			`{"arr":[1,"a","b",2]}`, []string{"arr"}},
		{"$push negative $position", `{"arr":[1,2]}`, `{"$push":{"arr":{"$each":["a"],"$position":-1}}}`,
			`{"arr":[1,"a",2]}`, []string{"arr"}},
		{"$push $slice 0", `{"arr":[1,2]}`, `{"$push":{"arr":{"$each":[3],"$slice":0}}}`, `{"arr":[]}`, []string{"arr"}},
		{"$push $sort by field", `{"q":[{"s":1},{"s":3}]}`, `{"$push":{"q":{"$each":[{"s":2}],"$sort":{"s":-1}}}}`,
			`{"q":[{"s":3},{"s":2},{"s":1}]}`, []string{"q"}},
		{"$push empty $each", `{"arr":[1]}`, `{"$push":{"arr":{"$each":[]}}}`, `{"arr":[1]}`, nil},
		{"$addToSet present", `{"arr":[1,2]}`, `{"$addToSet":{"arr":2}}`, `{"arr":[1,2]}`, nil},
		{"$addToSet $each", `{"arr":[1,2]}`, `{"$addToSet":{"arr":{"$each":[2,3,3]}}}`, `{"arr":[1,2,3]}`, []string{"arr"}},
		{"$addToSet object", `{"o":[{"a":1,"b":2}]}`, `{"$addToSet":{"o":{"b":2,"a":1}}}`, `{"o":[{"a":1,"b":2}]}`, nil},
		{"$addToSet missing", `{}`, `{"$addToSet":{"arr":1}}`, `{"arr":[1]}`, []string{"arr"}},
		{"$pull value", `{"arr":[1,2,1]}`, `{"$pull":{"arr":1}}`, `{"arr":[2]}`, []string{"arr"}},
		{"$pull condition", `{"arr":[1,2,3]}`, `{"$pull":{"arr":{"$gte":2}}}`, `{"arr":[1]}`, []string{"arr"}},
		{"$pull $in", `{"arr":[1,2,3]}`, `{"$pull":{"arr":{"$in":[1,3]}}}`, `{"arr":[2]}`, []string{"arr"}},
		// The manual: "$pull operator applies the <condition> as if each
		// array element were a document in a collection".
		{"$pull query on documents", `{"items":[{"sku":"x","qty":1},{"sku":"y"},5]}`, `{"$pull":{"items":{"sku":"x"}}}`,
			`{"items":[{"sku":"y"},5]}`, []string{"items"}},
		{"$pull array value", `{"arr":[[1,2],[2,1]]}`, `{"$pull":{"arr":[1,2]}}`, `{"arr":[[2,1]]}`, []string{"arr"}},
		{"$pull missing field", `{}`, `{"$pull":{"arr":1}}`, `{}`, nil},
		{"$pullAll", `{"arr":[1,2,3,1]}`, `{"$pullAll":{"arr":[1,3]}}`, `{"arr":[2]}`, []string{"arr"}},
		{"$pop last", `{"arr":[1,2,3]}`, `{"$pop":{"arr":1}}`, `{"arr":[1,2]}`, []string{"arr"}},
		{"$pop first", `{"arr":[1,2,3]}`, `{"$pop":{"arr":-1}}`, `{"arr":[2,3]}`, []string{"arr"}},
		{"$pop empty", `{"arr":[]}`, `{"$pop":{"arr":1}}`, `{"arr":[]}`, nil},
		{"$rename", `{"a":1,"b":{"c":2}}`, `{"$rename":{"a":"z","b.c":"y.w"}}`, `{"z":1,"b":{},"y":{"w":2}}`,
			[]string{"a", "b.c", "y.w", "z"}},
		{"$rename missing", `{"a":1}`, `{"$rename":{"nope":"z"}}`, `{"a":1}`, nil},
		{"$currentDate", `{}`, `{"$currentDate":{"t":true,"u":{"$type":"date"}}}`,
			`{"t":{"$date":"2024-05-06T07:08:09Z"},"u":{"$date":"2024-05-06T07:08:09Z"}}`, []string{"t", "u"}},
		{"$setOnInsert ignored", `{"a":1}`, `{"$setOnInsert":{"b":1},"$set":{"a":2}}`, `{"a":2}`, []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := withDates(t, decode(t, c.doc))
			changed, err := ApplyUpdateAt(doc, decode(t, c.update), fixedNow)
			if err != nil {
				t.Fatalf("ApplyUpdate(%s, %s): %v", c.doc, c.update, err)
			}
			if want := withDates(t, decode(t, c.want)); !reflect.DeepEqual(doc, want) {
				gj, _ := json.Marshal(doc)
				t.Errorf("ApplyUpdate(%s, %s) = %s, want %s", c.doc, c.update, gj, c.want)
			}
			if !slices.Equal(changed, c.changed) {
				t.Errorf("changed = %v, want %v", changed, c.changed)
			}
		})
	}
}

// withDates turns Extended JSON {"$date": ...} objects in test documents
// into time.Time, as a store would.
func withDates(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	v, err := literal(m)
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

func TestApplyUpdateErrors(t *testing.T) {
	const doc = `{"_id":"u","a":1,"s":"str","arr":[1,2],"o":{"k":1},"items":[{"x":1}],"nul":null}`
	cases := []struct {
		update string
		want   string
	}{
		{`{}`, `empty update`},
		{`{"$set":{"a":1},"b":2}`, `cannot mix update operators ($set) and plain fields at "b"`},
		{`{"$foo":{"a":1}}`, `unknown update operator "$foo"`},
		{`{"$set":5}`, `$set needs an object of fields`},
		{`{"$set":{"_id":"other"}}`, `immutable field _id at "_id"`},
		{`{"_id":"other"}`, `immutable field _id`},
		{`{"$unset":{"_id":1}}`, `immutable field _id`},
		{`{"$set":{"_id.x":1}}`, `immutable field _id`},
		{`{"$rename":{"a":"_id"}}`, `immutable field _id`},
		{`{"$rename":{"_id":"b"}}`, `immutable field _id`},
		{`{"$set":{"a":1},"$inc":{"a":1}}`, `updating the path "a" would create a conflict at "a"`},
		{`{"$set":{"o.k":1},"$unset":{"o":1}}`, `would create a conflict at "o"`},
		{`{"$rename":{"a":"b"},"$set":{"b.c":1}}`, `would create a conflict at "b"`},
		{`{"$set":{"a.$":1}}`, `positional and $-prefixed path components are not supported at "a.$"`},
		{`{"$set":{"arr.$[]":1}}`, `positional`},
		{`{"$set":{"a..b":1}}`, `empty field name in path at "a..b"`},
		{`{"$set":{"a.b":1}}`, `cannot create field "b" in "a", which is a number at "a.b"`},
		{`{"$set":{"nul.b":1}}`, `cannot create field "b" in "nul", which is null`},
		{`{"$set":{"arr.x":1}}`, `cannot create field "x" in array "arr"`},
		{`{"$set":{"arr.100000000":1}}`, `too far past the end`},
		{`{"$inc":{"s":1}}`, `cannot apply $inc to a value of type string at "s"`},
		{`{"$inc":{"a":"1"}}`, `$inc needs a number, not a string at "a"`},
		{`{"$mul":{"o":2}}`, `cannot apply $mul to a value of type object at "o"`},
		{`{"$push":{"s":1}}`, `$push needs an array field, but the field is a string at "s"`},
		{`{"$push":{"arr":{"$slice":1}}}`, `$push modifiers need $each`},
		{`{"$push":{"arr":{"$each":1}}}`, `$each needs an array`},
		{`{"$push":{"arr":{"$each":[1],"$bogus":1}}}`, `unknown $push modifier "$bogus"`},
		{`{"$push":{"arr":{"$each":[1],"$slice":1.5}}}`, `$slice needs an integer`},
		{`{"$push":{"arr":{"$each":[1],"$sort":"up"}}}`, `$sort needs 1, -1 or an object`},
		{`{"$addToSet":{"arr":{"$each":[1],"$slice":1}}}`, `$addToSet accepts only the $each modifier`},
		{`{"$addToSet":{"s":1}}`, `needs an array field`},
		{`{"$pull":{"s":1}}`, `needs an array field`},
		{`{"$pull":{"arr":{"$bad":1}}}`, `$pull: bad selector: unknown operator "$bad" at "arr"`},
		{`{"$pullAll":{"arr":1}}`, `$pullAll needs an array`},
		{`{"$pop":{"arr":2}}`, `$pop needs 1 or -1`},
		{`{"$rename":{"a":5}}`, `$rename needs a string destination`},
		{`{"$rename":{"o":"o.k"}}`, `cannot be the same or contain each other`},
		{`{"$rename":{"items.0.x":"y"}}`, `$rename cannot go through the array "items" at "items.0.x"`},
		{`{"$currentDate":{"t":{"$type":"timestamp"}}}`, `$type timestamp is not supported`},
		{`{"$currentDate":{"t":1}}`, `$currentDate needs true`},
		{`{"$set":{"d":{"$date":"soon"}}}`, `$date needs`},
	}
	for _, c := range cases {
		d := decode(t, doc)
		_, err := ApplyUpdateAt(d, decode(t, c.update), fixedNow)
		if err == nil || !errors.Is(err, ErrBadUpdate) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ApplyUpdate(%s) error = %v, want %q", c.update, err, c.want)
		}
		if !reflect.DeepEqual(d, decode(t, doc)) {
			t.Errorf("ApplyUpdate(%s) failed but changed the document", c.update)
		}
	}
}

func TestApplyUpdateAtomicAndCopies(t *testing.T) {
	// The first action succeeds, the second fails: nothing must change.
	doc := decode(t, `{"a":1,"s":"x"}`)
	if _, err := ApplyUpdate(doc, decode(t, `{"$set":{"a":2},"$inc":{"s":1}}`)); err == nil {
		t.Fatal("want error")
	}
	if doc["a"] != 1.0 {
		t.Errorf("failed update changed a to %v", doc["a"])
	}
	// Values are copied: changing the update afterwards leaves doc alone.
	upd := decode(t, `{"$set":{"o":{"k":[1]}}}`)
	if _, err := ApplyUpdate(doc, upd); err != nil {
		t.Fatal(err)
	}
	upd["$set"].(map[string]any)["o"].(map[string]any)["k"].([]any)[0] = 99.0
	if got := doc["o"].(map[string]any)["k"].([]any)[0]; got != 1.0 {
		t.Errorf("document shares memory with the update: %v", got)
	}
	if _, err := ApplyUpdate(nil, upd); err == nil {
		t.Error("ApplyUpdate(nil) should fail")
	}
	// ApplyUpdate uses the wall clock for $currentDate.
	before := time.Now()
	if _, err := ApplyUpdate(doc, decode(t, `{"$currentDate":{"t":true}}`)); err != nil {
		t.Fatal(err)
	}
	if ts, ok := doc["t"].(time.Time); !ok || ts.Before(before.Add(-time.Second)) {
		t.Errorf("$currentDate stored %v", doc["t"])
	}
}

func TestApplyUpdateGoIntegers(t *testing.T) {
	doc := map[string]any{"n": 2, "f": 1.5}
	if _, err := ApplyUpdate(doc, map[string]any{"$inc": map[string]any{"n": 3, "f": 1}}); err != nil {
		t.Fatal(err)
	}
	if doc["n"] != int64(5) || doc["f"] != 2.5 {
		t.Errorf("got n=%#v f=%#v, want int64(5) and 2.5", doc["n"], doc["f"])
	}
}
