package query

import (
	"encoding/json"
	"testing"
)

// FuzzSelector checks that no selector text, valid or not, makes
// ParseSelector or Match panic, and that Match is deterministic.
func FuzzSelector(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1}`, `{"a":[1,2]}`},
		{`{"a.b":null}`, `{"a":[{},{"b":5},5,[]]}`},
		{`{"a.0.b":{"$gt":1}}`, `{"a":[{"b":2}]}`},
		{`{"$or":[{"a":{"$in":[1,"x",null]}},{"b":{"$exists":false}}]}`, `{"b":[]}`},
		{`{"a":{"$elemMatch":{"$elemMatch":{"$gt":1}}}}`, `{"a":[[0,2]]}`},
		{`{"a":{"$all":[{"$elemMatch":{"b":1}}]}}`, `{"a":[{"b":1}]}`},
		{`{"a":{"$not":{"$regex":"^x","$options":"imsx"}}}`, `{"a":"X"}`},
		{`{"a":{"$type":["number","array"],"$size":2,"$mod":[3,1]}}`, `{"a":[4,7]}`},
		{`{"a":{"$date":"2024-01-01T00:00:00Z"}}`, `{"a":{"$date":0}}`},
		{`{"$nor":[{"a.99999999999":1}]}`, `{"a":[]}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, selText, docText string) {
		sel, err := ParseSelector([]byte(selText))
		if err != nil {
			return
		}
		var doc map[string]any
		if json.Unmarshal([]byte(docText), &doc) != nil {
			doc = map[string]any{}
		}
		if first, second := sel.Match(doc), sel.Match(doc); first != second {
			t.Fatalf("Match is not deterministic for %s on %s", selText, docText)
		}
		sel.IDs()
		sel.Range("a")
	})
}

// FuzzApplyUpdate checks that updates never panic and that a failed update
// leaves the document unchanged.
func FuzzApplyUpdate(f *testing.F) {
	f.Add(`{"a":[1,{"b":2}],"_id":"x"}`, `{"$set":{"a.1.b":3},"$push":{"c":{"$each":[1],"$sort":-1}}}`)
	f.Add(`{"a":1}`, `{"$rename":{"a":"b.c"},"$pull":{"d":{"e":1}}}`)
	f.Add(`{"a":[]}`, `{"$set":{"a.5":1},"$inc":{"n":1}}`)
	f.Fuzz(func(t *testing.T, docText, updText string) {
		var doc, upd map[string]any
		if json.Unmarshal([]byte(docText), &doc) != nil || doc == nil {
			return
		}
		if json.Unmarshal([]byte(updText), &upd) != nil {
			return
		}
		before, _ := json.Marshal(doc)
		if _, err := ApplyUpdateAt(doc, upd, fixedNow); err != nil {
			after, _ := json.Marshal(doc)
			if string(before) != string(after) {
				t.Fatalf("failed update %s changed %s to %s", updText, before, after)
			}
		}
	})
}
