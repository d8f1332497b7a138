package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// An index scan whose order is not _id's, for a page in _id order, reads
// documents in _id order until the page is full: the page is the one a
// scan returns, and fewer documents are read than keys examined.
func TestFindByIDOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var l store.Layer
	if err := json.Unmarshal([]byte(`{"_id": "p", "collections": [{"name": "m", "indexes": [{"fields": {"n": 1}}, {"fields": {"s": 1, "n": 1}}]}]}`), &l); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLayer(ctx, l); err != nil {
		t.Fatal(err)
	}
	// n runs against the _id order
	var docs []store.Document
	for i := range 200 {
		docs = append(docs, store.Document{"_id": fmt.Sprintf("d%03d", i), "n": float64((i * 37) % 200), "s": fmt.Sprintf("k%d", i%4), "free": float64(i % 3)})
	}
	if _, err := s.Insert(ctx, "p", "m", docs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sel         string
		match       func(d store.Document) bool
		skip, limit int
		maxDocs     int // documents read at most
	}{
		{`{"n": {"$gte": 50, "$lt": 100}}`, func(d store.Document) bool { n := d["n"].(float64); return n >= 50 && n < 100 }, 0, 10, 10},
		{`{"n": {"$gte": 50, "$lt": 100}}`, func(d store.Document) bool { n := d["n"].(float64); return n >= 50 && n < 100 }, 5, 10, 15},
		{`{"n": {"$gte": 50, "$lt": 100}}`, func(d store.Document) bool { n := d["n"].(float64); return n >= 50 && n < 100 }, 45, 10, 50},
		{`{"n": {"$in": [7, 3, 150, 99]}}`, func(d store.Document) bool { return slices.Contains([]float64{7, 3, 150, 99}, d["n"].(float64)) }, 0, 2, 2},
		{`{"s": "k1", "n": {"$lt": 120}}`, func(d store.Document) bool { return d["s"] == "k1" && d["n"].(float64) < 120 }, 0, 7, 7},
		{`{"n": {"$gt": 20}, "free": 2}`, func(d store.Document) bool { return d["n"].(float64) > 20 && d["free"] == 2.0 }, 3, 5, 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s skip %d limit %d", tt.sel, tt.skip, tt.limit), func(t *testing.T) {
			sel, err := query.ParseSelector([]byte(tt.sel))
			if err != nil {
				t.Fatal(err)
			}
			o := store.FindOptions{Selector: sel, Skip: tt.skip, Limit: tt.limit}
			got, err := s.Find(ctx, "p", "m", o)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, d := range docs { // in _id order
				if tt.match(d) {
					want = append(want, d["_id"].(string))
				}
			}
			want = want[min(tt.skip, len(want)):]
			want = want[:min(tt.limit, len(want))]
			var gotIDs []string
			for _, d := range got {
				gotIDs = append(gotIDs, d["_id"].(string))
				if _, ok := d["free"]; !ok {
					t.Errorf("document %v is not whole", d)
				}
			}
			if !slices.Equal(gotIDs, want) {
				t.Errorf("ids %v, want %v", gotIDs, want)
			}
			p, err := s.Explain(ctx, "p", "m", o)
			if err != nil {
				t.Fatal(err)
			}
			if p.Plan != "IXSCAN" || p.DocsExamined > tt.maxDocs || p.Returned != len(want) {
				t.Errorf("explain %+v: want an IXSCAN reading at most %d documents, returning %d", p, tt.maxDocs, len(want))
			}
		})
	}
}
