package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// planStore holds layer p, collection m, with 100 documents n = 0..99,
// s = "k<n%10>", indexed on n, on (s, n) and unique on code.
func planStore(t *testing.T) *Store {
	t.Helper()
	s := open(t)
	var l store.Layer
	if err := json.Unmarshal([]byte(`{"_id": "p", "collections": [{"name": "m", "indexes": [
		{"fields": {"n": 1}}, {"fields": {"s": 1, "n": 1}}, {"fields": {"code": 1}, "unique": true}]}]}`), &l); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLayer(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	var docs []store.Document
	for i := range 100 {
		docs = append(docs, store.Document{"_id": fmt.Sprintf("d%03d", i), "n": float64(i), "s": fmt.Sprintf("k%d", i%10), "code": fmt.Sprintf("c%d", i), "free": float64(i % 7)})
	}
	if _, err := s.Insert(context.Background(), "p", "m", docs); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExplainPlans(t *testing.T) {
	s := planStore(t)
	tests := []struct {
		sel, sort  string
		limit      int
		plan, ix   string
		keys, docs int
		returned   int
	}{
		{`{"n": 42}`, "", 0, "IXSCAN", "n_1", 1, 1, 1},
		{`{"n": {"$gte": 10, "$lt": 20}}`, "", 0, "IXSCAN", "n_1", 10, 10, 10},
		{`{"n": {"$in": [3, 5, 5, 200]}}`, "", 0, "IXSCAN", "n_1", 2, 2, 2},
		{`{"s": "k3", "n": {"$gt": 50}}`, "", 0, "IXSCAN", "s_1_n_1", 5, 5, 5},
		{`{"code": {"$regex": "^c9"}}`, "", 0, "IXSCAN", "code_1", 11, 11, 11},
		{`{"s": "k3"}`, `{"n": 1}`, 2, "IXSCAN", "s_1_n_1", 2, 2, 2},
		{``, `{"n": 1}`, 5, "IXSCAN", "n_1", 5, 5, 5},
		{`{"free": 3}`, "", 0, "COLLSCAN", "", 0, 100, 14},
		{`{"_id": "d007"}`, "", 0, "IXSCAN", "_id_", 1, 1, 1},
		{`{"n": {"$gt": "a"}}`, "", 0, "IXSCAN", "n_1", 0, 0, 0},
		{`{"n": {"$ne": 3}}`, "", 5, "COLLSCAN", "", 0, 6, 5},
	}
	for _, tt := range tests {
		t.Run(tt.sel+" "+tt.sort, func(t *testing.T) {
			o := store.FindOptions{Limit: tt.limit}
			if tt.sel != "" {
				sel, err := query.ParseSelector([]byte(tt.sel))
				if err != nil {
					t.Fatal(err)
				}
				o.Selector = sel
			}
			if tt.sort != "" {
				sp, err := query.ParseSortJSON([]byte(tt.sort))
				if err != nil {
					t.Fatal(err)
				}
				o.Sort = sp
			}
			p, err := s.Explain(context.Background(), "p", "m", o)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%s %s keys=%d docs=%d returned=%d", p.Plan, p.Index, p.KeysExamined, p.DocsExamined, p.Returned)
			want := fmt.Sprintf("%s %s keys=%d docs=%d returned=%d", tt.plan, tt.ix, tt.keys, tt.docs, tt.returned)
			if got != want {
				t.Errorf("explain: got %s, want %s", got, want)
			}
		})
	}
}
