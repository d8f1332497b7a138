package bolt

import (
	"context"
	"errors"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

// TestLayerMemo checks that decoded layers are reused only while the stored
// bytes are the same: a rewritten layer (also by a transaction that is
// rolled back, or written without PutLayer) is read as stored, and a
// caller changing the layer it got changes nothing stored or cached.
func TestLayerMemo(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	put := func(label string, cols ...string) {
		t.Helper()
		l := store.Layer{ID: "memo", Label: label}
		for _, c := range cols {
			l.Collections = append(l.Collections, store.Collection{Name: c})
		}
		if err := s.PutLayer(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, label string, ncols int) {
		t.Helper()
		l, err := s.Layer(ctx, "memo")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if l.Label != label || len(l.Collections) != ncols {
			t.Errorf("%s: layer label %q with %d collections, want %q with %d", step, l.Label, len(l.Collections), label, ncols)
		}
	}
	put("one", "a")
	check("first read", "one", 1)
	check("second read", "one", 1)

	l, _ := s.Layer(ctx, "memo")
	l.Label = "changed by a caller"
	l.Collections = append(l.Collections, store.Collection{Name: "b"})
	check("after a caller changed its copy", "one", 1)

	put("two", "a", "b")
	check("after PutLayer", "two", 2)
	// the new collection is known to document reads at once
	if _, err := s.Get(ctx, "memo", "b", "x"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `document "x"`) {
		t.Errorf("Get in the new collection: %v, want document \"x\" not found", err)
	}

	// a transaction sees its own uncommitted layer, then the old one
	// after rolling back
	errRollback := context.Canceled
	err := s.db.Update(func(tx *bbolt.Tx) error {
		nl := store.Layer{ID: "memo", Label: "three", Collections: []store.Collection{{Name: "a"}}}
		if err := putLayer(tx, &nl); err != nil {
			return err
		}
		if l, err := layerView(tx, "memo"); err != nil || l.Label != "three" {
			t.Errorf("layer inside the writing transaction: %v, %v; want label three", l, err)
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("update: %v", err)
	}
	check("after a rolled-back write", "two", 2)

	if err := s.DeleteLayer(ctx, "memo"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Layer(ctx, "memo"); err == nil {
		t.Error("deleted layer still read")
	}
}
