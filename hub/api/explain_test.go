package api

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
)

// TestFindExplain checks explain=true on the REST find: the plan of an
// indexed and an unindexed selector, and how a unique index violation is
// answered.
func TestFindExplain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l, err := e.st.Layer(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	l.Collection("meters").Indexes = []store.Index{{Fields: store.IndexFields{{Path: "n", Order: 1}}, Unique: true}}
	if err := e.st.PutLayer(ctx, *l); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		e.must("POST", "/demo/meters", map[string]any{"_id": fmt.Sprintf("m%02d", i), "n": i, "odd": i%2 == 1}, e.admin)
	}
	tests := []struct {
		query, plan, index string
		docs, returned     float64
	}{
		{`{"n": {"$gte": 10, "$lt": 15}}`, "IXSCAN", "n_1", 5, 5},
		{`{"n": 7}`, "IXSCAN", "n_1", 1, 1},
		{`{"odd": true}`, "COLLSCAN", "", 30, 15},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			m := e.must("GET", "/demo/meters?explain=true&query="+url.QueryEscape(tt.query), nil, e.admin)
			p, _ := m["data"].(map[string]any)
			if p["plan"] != tt.plan || p["docsExamined"] != tt.docs || p["returned"] != tt.returned || p["backend"] != "bolt" {
				t.Errorf("explain %s: got %v, want plan %s docsExamined %v returned %v", tt.query, p, tt.plan, tt.docs, tt.returned)
			}
			if idx, _ := p["index"].(string); idx != tt.index {
				t.Errorf("explain %s: index %q, want %q", tt.query, idx, tt.index)
			}
		})
	}
	// a unique violation: an update of one document is a conflict (409); an
	// insert whose every document failed is 409 only when their _ids exist
	// (the API's rule for POST), else 400, with the index and key named
	e.wantError("PATCH", "/demo/meters/m04", map[string]any{"n": 3}, e.admin, 409, `index "n_1" dup key { n: 3 }`)
	e.wantError("POST", "/demo/meters", map[string]any{"_id": "dup", "n": 3}, e.admin, 400, `index "n_1" dup key { n: 3 }`)
}
