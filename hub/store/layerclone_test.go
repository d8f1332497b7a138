package store

import (
	"reflect"
	"testing"
)

func TestLayerClone(t *testing.T) {
	orig := &Layer{ID: "grid", Label: "Grid",
		Collections: []Collection{{Name: "meters", Metrics: []string{"p"},
			Indexes: []Index{{Fields: IndexFields{{Path: "n", Order: 1}}}},
			Extra:   map[string]any{"publicFields": []any{"name"}, "track": map[string]any{"on": true}}}},
		Config: map[string]any{"publicFields": map[string]any{"meters": []any{"name"}}}}
	want := &Layer{ID: "grid", Label: "Grid",
		Collections: []Collection{{Name: "meters", Metrics: []string{"p"},
			Indexes: []Index{{Fields: IndexFields{{Path: "n", Order: 1}}}},
			Extra:   map[string]any{"publicFields": []any{"name"}, "track": map[string]any{"on": true}}}},
		Config: map[string]any{"publicFields": map[string]any{"meters": []any{"name"}}}}
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone = %+v, want %+v", c, orig)
	}
	// change every part of the clone: the original must not move
	c.Label = "x"
	c.Collections[0].Metrics[0] = "q"
	c.Collections[0].Indexes[0].Fields[0].Path = "m"
	c.Collections[0].Extra["publicFields"].([]any)[0] = "secret"
	c.Collections[0].Extra["track"].(map[string]any)["on"] = false
	c.Config["publicFields"].(map[string]any)["meters"] = nil
	c.Collections = append(c.Collections, Collection{Name: "new"})
	if !reflect.DeepEqual(orig, want) {
		t.Errorf("original after changing the clone = %+v, want %+v", orig, want)
	}
	if (*Layer)(nil).Clone() != nil {
		t.Error("nil layer cloned to non-nil")
	}
}
