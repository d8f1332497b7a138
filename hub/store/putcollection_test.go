package store_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

// TestPutCollection: a missing layer is made from the model, a missing
// collection is appended, an existing one leaves the layer as it was.
func TestPutCollection(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		existing  *store.Layer
		col       string
		wantLabel string
		wantCols  []string
	}{
		{"no layer", nil, "items", "Incidents", []string{"items"}},
		{"layer without the collection", &store.Layer{ID: "incidents", Label: "Kept", Collections: []store.Collection{{Name: "config"}}},
			"items", "Kept", []string{"config", "items"}},
		{"collection there", &store.Layer{ID: "incidents", Label: "Kept", Collections: []store.Collection{{Name: "items"}}},
			"items", "Kept", []string{"items"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if tc.existing != nil {
				if err := st.PutLayer(ctx, *tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // idempotent
				if err := store.PutCollection(ctx, st, "incidents", tc.col, store.Layer{Label: "Incidents"}); err != nil {
					t.Fatal(err)
				}
			}
			l, err := st.Layer(ctx, "incidents")
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, c := range l.Collections {
				cols = append(cols, c.Name)
			}
			if l.ID != "incidents" || l.Label != tc.wantLabel || !slices.Equal(cols, tc.wantCols) {
				t.Errorf("layer %s label %q collections %v, want label %q collections %v", l.ID, l.Label, cols, tc.wantLabel, tc.wantCols)
			}
		})
	}
}
