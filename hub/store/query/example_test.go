package query_test

import (
	"fmt"

	"github.com/gridedge/gridedge/hub/store/query"
)

func Example() {
	docs := []map[string]any{
		{"_id": "a", "kind": "meter", "kw": 3.5, "tags": []any{"lv", "north"}},
		{"_id": "b", "kind": "meter", "kw": 7.0, "tags": []any{"mv"}},
		{"_id": "c", "kind": "sensor", "kw": 1.0},
	}
	sel, err := query.ParseSelector([]byte(`{"kind":"meter","kw":{"$gte":3},"tags":{"$in":["lv","mv"]}}`))
	if err != nil {
		panic(err)
	}
	sort, _ := query.ParseSortJSON([]byte(`{"kw":-1}`))
	proj, _ := query.ParseProjection(map[string]any{"kw": 1, "_id": 0})

	var out []map[string]any
	for _, d := range docs {
		if sel.Match(d) {
			out = append(out, d)
		}
	}
	sort.Sort(out)
	for _, d := range out {
		fmt.Println(proj.Apply(d))
	}
	// Output:
	// map[kw:7]
	// map[kw:3.5]
}

func ExampleApplyUpdate() {
	doc := map[string]any{"_id": "m1", "count": 1.0, "tags": []any{"a"}}
	changed, err := query.ApplyUpdate(doc, map[string]any{
		"$inc":      map[string]any{"count": 2.0},
		"$addToSet": map[string]any{"tags": "b"},
	})
	fmt.Println(changed, err, doc["count"], doc["tags"])
	// Output: [count tags] <nil> 3 [a b]
}
