package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

func fill(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	if err := s.PutLayer(ctx, store.Layer{ID: "b", Collections: []store.Collection{{Name: "m"}}}); err != nil {
		t.Fatal(err)
	}
	var docs []store.Document
	for i := range n {
		docs = append(docs, store.Document{"_id": fmt.Sprintf("d%05d", i), "n": float64(i), "dup": float64(i % 3)})
	}
	if res, err := s.Insert(ctx, "b", "m", docs); err != nil || res.OK != n {
		t.Fatalf("Insert: %+v %v", res, err)
	}
}

func TestBackgroundBuild(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		index     store.Index
		wantState string
		wantPlan  string
	}{
		{"builds then serves", store.Index{Fields: store.IndexFields{{Path: "n", Order: 1}}, Unique: true}, indexReady, "IXSCAN"},
		{"duplicate keys fail a unique build", store.Index{Fields: store.IndexFields{{Path: "dup", Order: 1}}, Unique: true}, indexFailed, "COLLSCAN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			fill(t, s, 5000)
			l := store.Layer{ID: "b", Collections: []store.Collection{{Name: "m", Indexes: []store.Index{tt.index}}}}
			if err := s.PutLayer(ctx, l); err != nil {
				t.Fatal(err)
			}
			s.waitBuilds()
			name := tt.index.IndexName()
			st, err := s.Get(ctx, "system", "indexes", "b_m_"+name)
			if err != nil {
				t.Fatalf("status document: %v", err)
			}
			if st["state"] != tt.wantState {
				t.Errorf("status state = %v, want %s (%v)", st["state"], tt.wantState, st)
			}
			if tt.wantState == indexReady && st["built"] != 5000.0 {
				t.Errorf("status built = %v, want 5000", st["built"])
			}
			sel, _ := query.CompileSelector(map[string]any{tt.index.Fields[0].Path: 2.0})
			p, err := s.Explain(ctx, "b", "m", store.FindOptions{Selector: sel})
			if err != nil {
				t.Fatal(err)
			}
			if p.Plan != tt.wantPlan {
				t.Errorf("plan = %s, want %s", p.Plan, tt.wantPlan)
			}
			// dropping the declaration drops the index and its status
			if err := s.PutLayer(ctx, store.Layer{ID: "b", Collections: []store.Collection{{Name: "m"}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "system", "indexes", "b_m_"+name); err == nil {
				t.Errorf("status document still there after the drop")
			}
		})
	}
}

func TestBuildResumesAfterReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 3*buildChunk)
	s.stopBuilds() // as if the process stopped before the build ran
	if err := s.PutLayer(ctx, store.Layer{ID: "b", Collections: []store.Collection{{Name: "m", Indexes: []store.Index{{Fields: store.IndexFields{{Path: "n", Order: -1}}}}}}}); err != nil {
		t.Fatal(err)
	}
	s.waitBuilds()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.waitBuilds()
	st, err := s.Get(ctx, "system", "indexes", "b_m_n_-1")
	if err != nil {
		t.Fatal(err)
	}
	if st["state"] != indexReady || st["built"] != float64(3*buildChunk) {
		t.Errorf("after reopening: state %v built %v, want ready %d", st["state"], st["built"], 3*buildChunk)
	}
	if err := checkConsistency(s.db); err != nil {
		t.Error(err)
	}
	s.Close()
}

// TestCrashImage copies the file right after committed writes, as a crash
// would leave it (bbolt syncs at commit), opens the copy without a clean
// close of the original, and checks that indexes and documents agree.
func TestCrashImage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t)
	l := store.Layer{ID: "b", Collections: []store.Collection{{Name: "m", Indexes: []store.Index{
		{Fields: store.IndexFields{{Path: "n", Order: 1}}, Unique: true},
		{Fields: store.IndexFields{{Path: "dup", Order: 1}, {Path: "n", Order: -1}}},
	}}}}
	if err := s.PutLayer(ctx, l); err != nil {
		t.Fatal(err)
	}
	fill(t, s, 500)
	if _, err := s.UpdateByID(ctx, "b", "m", "d00001", map[string]any{"n": 10000.0}); err != nil {
		t.Fatal(err)
	}
	sel, _ := query.CompileSelector(map[string]any{"dup": 1.0})
	if _, err := s.DeleteMany(ctx, "b", "m", sel); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "crash.db")
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(img)
	if err != nil {
		t.Fatalf("open the crash image: %v", err)
	}
	defer c.Close()
	if err := checkConsistency(c.db); err != nil {
		t.Errorf("crash image: %v", err)
	}
	n, err := c.Count(ctx, "b", "m", nil)
	if err != nil || n != 500-167 {
		t.Errorf("crash image holds %d documents (%v), want %d", n, err, 500-167)
	}
}
