package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

func TestTopFields(t *testing.T) {
	tests := []struct {
		doc  store.Document
		want []string
	}{
		{store.Document{store.FieldID: "a", store.FieldUpdated: time.Now(), store.FieldExpired: false, "b": 1, "a": 2}, []string{store.FieldExpired, "a", "b"}},
		{store.Document{store.FieldID: "a"}, []string{}},
	}
	for _, tt := range tests {
		if got := store.TopFields(tt.doc); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("TopFields(%v) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}

func TestMergeFields(t *testing.T) {
	tests := []struct {
		a, b, want []string
	}{
		{nil, nil, []string{}},
		{nil, []string{"b", "a"}, []string{"a", "b"}},
		{[]string{"a", "c"}, []string{"b", "c"}, []string{"a", "b", "c"}},
		{[]string{"x"}, nil, []string{"x"}},
	}
	for _, tt := range tests {
		a := append([]string(nil), tt.a...)
		got := store.MergeFields(a, tt.b)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("MergeFields(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if !reflect.DeepEqual(a, tt.a) {
			t.Errorf("MergeFields changed its first argument to %v", a)
		}
	}
}

// openChanges returns a bolt store with layer demo (collection m holding
// documents a and b), wrapped by WithChanges, and the changes it reported.
func openChanges(t *testing.T) (store.Store, *[]store.Change) {
	t.Helper()
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	s, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"), bolt.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.PutLayer(ctx, store.Layer{ID: "demo", Collections: []store.Collection{{Name: "m"}, {Name: "n"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, "demo", "m", []store.Document{{store.FieldID: "a", "v": 1.0}, {store.FieldID: "b", "v": 2.0}}); err != nil {
		t.Fatal(err)
	}
	var got []store.Change
	return store.WithChanges(s, func(c store.Change) { got = append(got, c) }), &got
}

func TestWithChanges(t *testing.T) {
	ctx := context.Background()
	sel := func(m map[string]any) *query.Selector {
		s, err := query.CompileSelector(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ch := func(op, id string, fields ...string) store.Change {
		return store.Change{Op: op, Layer: "demo", Collection: "m", ID: id, Fields: fields}
	}
	tests := []struct {
		name    string
		write   func(s store.Store) error
		want    []store.Change
		wantErr bool
	}{
		{"insert", func(s store.Store) error {
			_, err := s.Insert(ctx, "demo", "m", []store.Document{{store.FieldID: "c", "x": 1.0}})
			return err
		}, []store.Change{ch(store.OpInsert, "c", store.FieldExpired, "x")}, false},
		{"insert, partly failing", func(s store.Store) error {
			_, err := s.Insert(ctx, "demo", "m", []store.Document{{store.FieldID: "a"}, {store.FieldID: "c", "x": 1.0}})
			return err
		}, []store.Change{ch(store.OpInsert, "c", store.FieldExpired, "x")}, false},
		{"update by id", func(s store.Store) error {
			_, err := s.UpdateByID(ctx, "demo", "m", "a", map[string]any{"$set": map[string]any{"v": 5.0, "w": 1.0}})
			return err
		}, []store.Change{ch(store.OpUpdate, "a", "v", "w")}, false},
		{"update of a missing document", func(s store.Store) error {
			_, err := s.UpdateByID(ctx, "demo", "m", "zz", map[string]any{"v": 5.0})
			return err
		}, nil, true},
		{"update many", func(s store.Store) error {
			_, err := s.UpdateMany(ctx, "demo", "m", []store.Document{{store.FieldID: "a", "v": 3.0}, {store.FieldID: "zz", "v": 1.0}})
			return err
		}, []store.Change{ch(store.OpUpdate, "a", "v")}, false},
		{"delete by id", func(s store.Store) error { return s.DeleteByID(ctx, "demo", "m", "b") },
			[]store.Change{ch(store.OpDelete, "b")}, false},
		{"delete of a missing document", func(s store.Store) error { return s.DeleteByID(ctx, "demo", "m", "zz") }, nil, true},
		{"delete many", func(s store.Store) error {
			_, err := s.DeleteMany(ctx, "demo", "m", sel(map[string]any{"v": map[string]any{"$gte": 2.0}}))
			return err
		}, []store.Change{ch(store.OpDelete, "b")}, false},
		{"bulk", func(s store.Store) error {
			_, err := s.Bulk(ctx, "demo", "m", []store.Document{{store.FieldID: "a", "v": 9.0}, {store.FieldID: "d", "v": 1.0}}, false)
			return err
		}, []store.Change{ch(store.OpUpdate, "a", "v"), ch(store.OpInsert, "d", store.FieldExpired, "v")}, false},
		{"write to a missing collection", func(s store.Store) error {
			_, err := s.Insert(ctx, "demo", "nope", []store.Document{{"x": 1.0}})
			return err
		}, nil, true},
		{"delete layer", func(s store.Store) error { return s.DeleteLayer(ctx, "demo") }, []store.Change{
			{Op: store.OpDrop, Layer: "demo", Collection: "m"}, {Op: store.OpDrop, Layer: "demo", Collection: "n"}}, false},
		{"delete a missing layer", func(s store.Store) error { return s.DeleteLayer(ctx, "nope") }, nil, true},
		{"apply batch is not reported", func(s store.Store) error {
			b := &model.Batch{Edge: "e1", SeqFirst: 1, SeqLast: 1, Updates: []model.Update{{Layer: "demo", Collection: "m", ID: "a",
				Set: map[string]any{"v": 7.0}, TS: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}}}
			res, err := s.ApplyBatch(ctx, b, store.ApplyOptions{})
			if err == nil && len(res.Changes) != 1 {
				t.Errorf("ApplyBatch reported %d changes in its result, want 1", len(res.Changes))
			}
			return err
		}, nil, false},
		{"reads are not reported", func(s store.Store) error {
			_, err := s.Find(ctx, "demo", "m", store.FindOptions{})
			return err
		}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := openChanges(t)
			err := tt.write(s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("write error = %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("changes %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// A change is reported once the write returned, so that a subscriber that
// reads the document at once sees the new value.
func TestWithChangesAfterWrite(t *testing.T) {
	ctx := context.Background()
	s, _ := openChanges(t)
	var seen any
	inner := s
	s = store.WithChanges(inner, func(c store.Change) {
		if c.Op != store.OpUpdate {
			return
		}
		d, err := inner.Get(ctx, c.Layer, c.Collection, c.ID)
		if err != nil {
			t.Errorf("read of %s in the publisher: %v", c.ID, err)
			return
		}
		seen = d["v"]
	})
	if _, err := s.UpdateByID(ctx, "demo", "m", "a", map[string]any{"v": 42.0}); err != nil {
		t.Fatal(err)
	}
	if seen != 42.0 {
		t.Errorf("publisher saw v = %v, want 42", seen)
	}
	if err := s.DeleteByID(ctx, "demo", "m", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := inner.Get(ctx, "demo", "m", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: got %v, want ErrNotFound", err)
	}
}
