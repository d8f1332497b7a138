package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestSetPath(t *testing.T) {
	tests := []struct {
		name    string
		doc     Document
		path    string
		v       any
		want    Document
		wantErr bool
	}{
		{"top level", Document{}, "a", 1.0, Document{"a": 1.0}, false},
		{"creates objects", Document{}, "a.b.c", 1.0, Document{"a": map[string]any{"b": map[string]any{"c": 1.0}}}, false},
		{"into existing", Document{"a": map[string]any{"x": 2.0}}, "a.b", 1.0, Document{"a": map[string]any{"x": 2.0, "b": 1.0}}, false},
		{"replaces null", Document{"a": nil}, "a.b", 1.0, Document{"a": map[string]any{"b": 1.0}}, false},
		{"overwrites leaf", Document{"a": map[string]any{"b": "old"}}, "a.b", "new", Document{"a": map[string]any{"b": "new"}}, false},
		{"non-object in the way", Document{"a": 5.0}, "a.b", 1.0, nil, true},
		{"array in the way", Document{"a": []any{1.0}}, "a.0", 1.0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SetPath(tt.doc, tt.path, tt.v)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("SetPath(%q) error = %v, want one wrapping ErrInvalid", tt.path, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.doc, tt.want) {
				t.Errorf("after SetPath(%q, %v): got %v, want %v", tt.path, tt.v, tt.doc, tt.want)
			}
		})
	}
}

func TestSetUpdate(t *testing.T) {
	tests := []struct {
		name    string
		doc     Document
		want    map[string]any
		wantErr bool
	}{
		{"fields but _id", Document{FieldID: "M1", "a": 1.0, "b.c": "x"}, map[string]any{"$set": map[string]any{"a": 1.0, "b.c": "x"}}, false},
		{"only _id", Document{FieldID: "M1"}, nil, true},
		{"empty", Document{}, nil, true},
		{"operator", Document{FieldID: "M1", "$inc": map[string]any{"a": 1.0}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetUpdate(tt.doc)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("SetUpdate(%v) error = %v, want one wrapping ErrInvalid", tt.doc, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SetUpdate(%v) = %v, want %v", tt.doc, got, tt.want)
			}
		})
	}
}

func TestCheckUpdate(t *testing.T) {
	tests := []struct {
		name    string
		update  map[string]any
		wantErr bool
	}{
		{"plain field", map[string]any{"a": 1.0}, false},
		{"$set", map[string]any{"$set": map[string]any{"a.b": 1.0}}, false},
		{"$rename elsewhere", map[string]any{"$rename": map[string]any{"a": "b"}}, false},
		{"_expired may be set", map[string]any{"$set": map[string]any{FieldExpired: true}}, false},
		{"malformed operator left to ApplyUpdate", map[string]any{"$set": 5.0}, false},
		{"empty", map[string]any{}, true},
		{"plain _updated", map[string]any{FieldUpdated: 1.0}, true},
		{"$set _updated", map[string]any{"$set": map[string]any{FieldUpdated: 1.0}}, true},
		{"$unset inside _updated", map[string]any{"$unset": map[string]any{FieldUpdated + ".x": ""}}, true},
		{"$rename onto _updated", map[string]any{"$rename": map[string]any{"a": FieldUpdated}}, true},
		{"$rename from _updated", map[string]any{"$rename": map[string]any{FieldUpdated: "a"}}, true},
		{"similar name is internal too", map[string]any{"$set": map[string]any{FieldUpdated + "By": "me"}}, true},
		{"internal name below a field", map[string]any{"$set": map[string]any{"a." + FieldSeq: 1.0}}, false},
		{"plain _seq", map[string]any{FieldSeq + ".e1": 1e15}, true},
		{"$set _seq", map[string]any{"$set": map[string]any{FieldSeq + ".e1": 1e15}}, true},
		{"$inc _seq", map[string]any{"$inc": map[string]any{FieldSeq + ".e1": 1.0}}, true},
		{"$unset _seq", map[string]any{"$unset": map[string]any{FieldSeq: ""}}, true},
		{"$push _seq", map[string]any{"$push": map[string]any{FieldSeq: 1.0}}, true},
		{"$rename onto _seq", map[string]any{"$rename": map[string]any{"a": FieldSeq}}, true},
		{"$rename from _seq", map[string]any{"$rename": map[string]any{FieldSeq: "a"}}, true},
		{"$setOnInsert _seq", map[string]any{"$setOnInsert": map[string]any{FieldSeq: 1.0}}, true},
		{"other internal field", map[string]any{"$set": map[string]any{"_owner": "me"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUpdate(tt.update)
			if tt.wantErr != (err != nil) {
				t.Fatalf("CheckUpdate(%v) = %v, want error %v", tt.update, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("CheckUpdate(%v) error %v does not wrap ErrInvalid", tt.update, err)
			}
		})
	}
}
