package store

import (
	"reflect"
	"testing"

	"github.com/gridedge/gridedge/hub/store/query"
)

// ids returns the _id of each document.
func ids(docs []Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i], _ = d[FieldID].(string)
	}
	return out
}

func pageDocs() []Document {
	return []Document{
		{FieldID: "c", "n": 1.0, "name": "C"},
		{FieldID: "a", "n": 2.0, "name": "A"},
		{FieldID: "d", "n": 1.0, "name": "D"},
		{FieldID: "b", "n": 3.0, "name": "B"},
	}
}

func TestPage(t *testing.T) {
	onlyName, err := query.ParseProjection(map[string]any{"name": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		opts   FindOptions
		sorted bool
		want   []string
	}{
		{"unsorted keeps order", FindOptions{}, false, []string{"c", "a", "d", "b"}},
		{"by _id", FindOptions{}, true, []string{"a", "b", "c", "d"}},
		{"by n, ties by _id", FindOptions{Sort: query.SortSpec{{Field: "n"}}}, true, []string{"c", "d", "a", "b"}},
		{"by n descending, ties by _id", FindOptions{Sort: query.SortSpec{{Field: "n", Desc: true}}}, true, []string{"b", "a", "c", "d"}},
		{"by _id descending", FindOptions{Sort: query.SortSpec{{Field: FieldID, Desc: true}}}, true, []string{"d", "c", "b", "a"}},
		{"skip", FindOptions{Skip: 1}, true, []string{"b", "c", "d"}},
		{"limit", FindOptions{Limit: 2}, true, []string{"a", "b"}},
		{"skip and limit", FindOptions{Skip: 1, Limit: 2}, true, []string{"b", "c"}},
		{"limit above length", FindOptions{Limit: 10}, true, []string{"a", "b", "c", "d"}},
		{"skip to end", FindOptions{Skip: 4}, true, []string{}},
		{"skip past end", FindOptions{Skip: 9}, true, []string{}},
		{"projection", FindOptions{Projection: onlyName, Limit: 1}, true, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Page(pageDocs(), tt.opts, tt.sorted)
			if got == nil {
				t.Fatal("Page returned nil, want a non-nil slice")
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestPageProjects(t *testing.T) {
	onlyName, err := query.ParseProjection(map[string]any{"name": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	got := Page(pageDocs(), FindOptions{Projection: onlyName, Limit: 1}, true)
	want := []Document{{FieldID: "a", "name": "A"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestProject(t *testing.T) {
	doc := Document{FieldID: "a", "x": 1.0, "y": 2.0}
	if got := Project(doc, nil); !reflect.DeepEqual(got, doc) {
		t.Errorf("Project(doc, nil) = %v, want the document itself", got)
	}
	noY, err := query.ParseProjection(map[string]any{"y": 0.0})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Project(doc, noY), (Document{FieldID: "a", "x": 1.0}); !reflect.DeepEqual(got, want) {
		t.Errorf("Project(doc, {y: 0}) = %v, want %v", got, want)
	}
	if _, ok := doc["y"]; !ok {
		t.Error("Project changed its input")
	}
}
