package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/store/query"
)

func TestCheckWritableReadable(t *testing.T) {
	tests := []struct {
		path               string
		writable, readable bool
	}{
		{"name", true, true},
		{"a._seq", true, true},
		{"_id", true, true},
		{"_expired", true, true},
		{"_updated", false, true},
		{"_updated.x", false, true},
		{"_seq", false, false},
		{"_seq.e1", false, false},
		{"_owner", false, false},
		{"_", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			werr, rerr := CheckWritable(tt.path), CheckReadable(tt.path)
			if got := werr == nil; got != tt.writable {
				t.Errorf("CheckWritable(%q) = %v, want writable %v", tt.path, werr, tt.writable)
			}
			if got := rerr == nil; got != tt.readable {
				t.Errorf("CheckReadable(%q) = %v, want readable %v", tt.path, rerr, tt.readable)
			}
			for _, err := range []error{werr, rerr} {
				if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"`+tt.path+`"`)) {
					t.Errorf("error %q: want ErrInvalid naming %q", err, tt.path)
				}
			}
		})
	}
}

func TestCheckFind(t *testing.T) {
	sel := func(js string) *query.Selector {
		s, err := query.ParseSelector([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	proj := func(js string) *query.Projection {
		p, err := query.ParseProjection([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sort := func(js string) query.SortSpec {
		s, err := query.ParseSortJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name string
		opts FindOptions
		bad  string // the field named in the error; "" for no error
	}{
		{"nothing", FindOptions{}, ""},
		{"public fields", FindOptions{Selector: sel(`{"_id": "a", "_updated": {"$gt": 0}, "_expired": false, "x": 1}`),
			Sort: sort(`{"_updated": -1}`), Projection: proj(`{"_expired": 1}`)}, ""},
		{"$elemMatch inside is relative", FindOptions{Selector: sel(`{"items": {"$elemMatch": {"_seq": 1}}}`)}, ""},
		{"selector", FindOptions{Selector: sel(`{"_seq.e1": {"$gt": 0}}`)}, "_seq.e1"},
		{"selector in $or", FindOptions{Selector: sel(`{"$or": [{"x": 1}, {"_seq": {"$exists": true}}]}`)}, "_seq"},
		{"selector in $nor $and", FindOptions{Selector: sel(`{"$nor": [{"$and": [{"_x": 1}]}]}`)}, "_x"},
		{"sort", FindOptions{Sort: sort(`{"_seq.e1": 1}`)}, "_seq.e1"},
		{"projection", FindOptions{Projection: proj(`{"_seq": 0}`)}, "_seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFind(tt.opts)
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
				t.Fatalf("got %v, want ErrInvalid naming %q", err, tt.bad)
			}
		})
	}
	if err := CheckRange("_seq.e1", FindOptions{}); err == nil || !strings.Contains(err.Error(), `"_seq.e1"`) {
		t.Fatalf("CheckRange on _seq.e1: got %v, want an error naming it", err)
	}
}
