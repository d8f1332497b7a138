package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		what, name string
		wantErr    bool
	}{
		{"layer", "gridflex", false},
		{"layer", "grid-flex2", false},
		{"layer", "grid_flex", true},
		{"collection", "grid_meters", false},
		{"collection", "", true},
		{"collection", "a.b", true},
		{"collection", "a b", true},
		{"collection", "ünicode", true},
		{"collection", strings.Repeat("a", 64), false},
		{"collection", strings.Repeat("a", 65), true},
		{"bucket", "fs_2", false},
	}
	for _, tt := range tests {
		t.Run(tt.what+" "+tt.name, func(t *testing.T) {
			err := CheckName(tt.what, tt.name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckName(%q, %q) = %v, want error %v", tt.what, tt.name, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestValidateLayer(t *testing.T) {
	tests := []struct {
		name    string
		l       Layer
		wantErr string
	}{
		{"ok", Layer{ID: "demo", Collections: []Collection{{Name: "meters"}, {Name: "hvac_units"}}}, ""},
		{"no collections", Layer{ID: "demo"}, ""},
		{"bad layer name", Layer{ID: "de_mo"}, "layer name"},
		{"bad collection name", Layer{ID: "demo", Collections: []Collection{{Name: "a.b"}}}, "collection name"},
		{"collection twice", Layer{ID: "demo", Collections: []Collection{{Name: "m"}, {Name: "m"}}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLayer(&tt.l)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.l.Collections == nil {
					t.Error("Collections left nil, want an empty list")
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an ErrInvalid error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnsureCollection(t *testing.T) {
	existing := func() *Layer { return &Layer{ID: "demo", Label: "Demo", Collections: []Collection{{Name: "meters"}}} }
	tests := []struct {
		name        string
		l           *Layer
		col         string
		want        *Layer
		wantChanged bool
		wantCreated []string
	}{
		{"present", existing(), "meters", existing(), false, nil},
		{"new collection", existing(), "hvac", &Layer{ID: "demo", Label: "Demo", Collections: []Collection{{Name: "meters"}, {Name: "hvac"}}},
			true, []string{"demo_hvac"}},
		{"new layer", nil, "hvac", &Layer{ID: "demo", Label: "demo", Description: "created by the ingest applier", Collections: []Collection{{Name: "hvac"}}},
			true, []string{"demo", "demo_hvac"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res ApplyResult
			got, changed := EnsureCollection(tt.l, "demo", tt.col, &res)
			if changed != tt.wantChanged || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v, %v", got, changed, tt.want, tt.wantChanged)
			}
			if !reflect.DeepEqual(res.Created, tt.wantCreated) {
				t.Errorf("Created = %v, want %v", res.Created, tt.wantCreated)
			}
		})
	}
}

func TestLayerCollection(t *testing.T) {
	l := Layer{ID: "demo", Collections: []Collection{{Name: "a", Label: "A"}, {Name: "b"}}}
	if c := l.Collection("a"); c == nil || c.Label != "A" {
		t.Errorf("Collection(a) = %v, want the collection labelled A", c)
	}
	l.Collection("b").Label = "B"
	if l.Collections[1].Label != "B" {
		t.Error("Collection does not return a pointer into the layer")
	}
	if c := l.Collection("c"); c != nil {
		t.Errorf("Collection(c) = %v, want nil", c)
	}
}

func TestCollectionJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Collection
	}{
		{"known only", `{"name":"m","label":"Meters","geo":true,"metrics":["p"]}`, Collection{Name: "m", Label: "Meters", Geo: true, Metrics: []string{"p"}}},
		{"extra attributes", `{"name":"m","publish":true,"publicFields":["a"]}`,
			Collection{Name: "m", Extra: map[string]any{"publish": true, "publicFields": []any{"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Collection
			if err := json.Unmarshal([]byte(tt.in), &c); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, tt.want) {
				t.Fatalf("decoded %+v, want %+v", c, tt.want)
			}
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.in), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("encoded %s, want %s", out, tt.in)
			}
		})
	}
	// Extra cannot override a known attribute
	out, err := json.Marshal(Collection{Name: "m", Extra: map[string]any{"name": "x", "k": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"k":1,"name":"m"}`; got != want {
		t.Errorf("encoded %s, want %s", got, want)
	}
	var c Collection
	if err := json.Unmarshal([]byte(`{"name":5}`), &c); err == nil {
		t.Error("decoding a numeric name succeeded, want an error")
	}
}
