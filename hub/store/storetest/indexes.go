package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// indexLayer declares a unique index on code, a sparse one on tag, a
// compound one on (site, -power) and a descending one on power.
func indexLayer(t *testing.T) store.Layer {
	t.Helper()
	var l store.Layer
	err := json.Unmarshal([]byte(`{"_id": "ix", "collections": [{"name": "m", "indexes": [
		{"fields": {"code": 1}, "unique": true},
		{"fields": {"tag": 1}, "sparse": true, "unique": true},
		{"fields": {"site": 1, "power": -1}, "name": "site_power"},
		{"fields": {"power": 1}}
	]}]}`), &l)
	if err != nil {
		t.Fatalf("decode layer: %v", err)
	}
	return l
}

func (s *suite) testIndexes(t *testing.T, st store.Store) {
	l := indexLayer(t)
	if err := st.PutLayer(ctx, l); err != nil {
		t.Fatalf("PutLayer: %v", err)
	}
	got, err := st.Layer(ctx, "ix")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Collection("m").Indexes); n != 4 {
		t.Fatalf("stored layer has %d index declarations, want 4", n)
	}
	if name := got.Collection("m").Indexes[2].IndexName(); name != "site_power" {
		t.Errorf("index name = %q, want site_power", name)
	}
	if f := got.Collection("m").Indexes[2].Fields; len(f) != 2 || f[0].Path != "site" || f[1].Order != -1 {
		t.Errorf("compound fields = %+v, want site 1 then power -1", f)
	}
	docs := []store.Document{
		{"_id": "a", "code": "A", "site": "s1", "power": 5.0},
		{"_id": "b", "code": "B", "site": "s1", "power": 7.0, "tag": "x"},
		{"_id": "c", "code": "C", "site": "s2", "power": 1.0},
		{"_id": "d", "code": "D", "site": "s1", "power": 6.0},
	}
	res, err := st.Insert(ctx, "ix", "m", docs)
	if err != nil || res.OK != 4 {
		t.Fatalf("Insert: %+v %v", res, err)
	}
	find := func(t *testing.T, selJS, sortJS string, limit int) string {
		t.Helper()
		o := store.FindOptions{Selector: sel(t, selJS), Limit: limit}
		if sortJS != "" {
			o.Sort = mustSort(t, sortJS)
		}
		out, err := st.Find(ctx, "ix", "m", o)
		if err != nil {
			t.Fatalf("Find %s: %v", selJS, err)
		}
		return ids(out)
	}

	t.Run("unique", func(t *testing.T) {
		res, err := st.Insert(ctx, "ix", "m", []store.Document{{"_id": "e", "code": "A"}, {"_id": "f", "code": "F"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != 1 || res.Err != 1 || res.ErrorIDs[0] != "e" {
			t.Fatalf("insert with a duplicate code: got %+v, want e failed and f written", res)
		}
		_, err = st.UpdateByID(ctx, "ix", "m", "f", map[string]any{"code": "B"})
		wantErr(t, "update to a duplicate code", err, store.ErrConflict)
		if got := find(t, `{"code": "F"}`, "", 0); got != "f" {
			t.Errorf("after the refused update, code F finds %q, want f", got)
		}
		if err := st.DeleteByID(ctx, "ix", "m", "f"); err != nil {
			t.Fatal(err)
		}
		// the key is free again once its document is gone
		if _, err := st.UpdateByID(ctx, "ix", "m", "c", map[string]any{"code": "F"}); err != nil {
			t.Fatalf("reuse a freed key: %v", err)
		}
		if _, err := st.UpdateByID(ctx, "ix", "m", "c", map[string]any{"code": "C"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("sparse unique", func(t *testing.T) {
		// documents without tag are left out of the sparse index: no conflict
		res, err := st.Insert(ctx, "ix", "m", []store.Document{{"_id": "g", "code": "G"}, {"_id": "h", "code": "H", "tag": "x"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != 1 || res.Err != 1 || res.ErrorIDs[0] != "h" {
			t.Fatalf("got %+v, want g written and h refused (tag x taken)", res)
		}
		if err := st.DeleteByID(ctx, "ix", "m", "g"); err != nil {
			t.Fatal(err)
		}
	})
	tests := []struct {
		name, sel, sort string
		limit           int
		want            string
	}{
		{"equality", `{"code": "C"}`, "", 0, "c"},
		{"in", `{"code": {"$in": ["D", "A", "Z"]}}`, "", 0, "a,d"},
		{"range", `{"power": {"$gt": 5, "$lte": 7}}`, "", 0, "b,d"},
		{"range sorted limit", `{"power": {"$gte": 1}}`, `{"power": 1}`, 2, "c,a"},
		{"prefix regex", `{"code": {"$regex": "^[AB]"}}`, "", 0, "a,b"},
		{"literal prefix regex", `{"site": {"$regex": "^s1"}}`, "", 0, "a,b,d"},
		{"compound equality then sort", `{"site": "s1"}`, `{"power": -1}`, 0, "b,d,a"},
		{"compound equality and limit", `{"site": "s1"}`, `{"power": -1}`, 1, "b"},
		{"sort by index, no selector", "", `{"power": 1}`, 3, "c,a,d"},
		{"sort the other way", "", `{"power": -1}`, 2, "b,d"},
		{"sparse index not used for missing", `{"tag": null}`, "", 0, "a,c,d"},
		{"other conditions re-checked", `{"code": "A", "power": {"$gt": 100}}`, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := find(t, tt.sel, tt.sort, tt.limit); got != tt.want {
				t.Errorf("find %s sort %s limit %d = %q, want %q", tt.sel, tt.sort, tt.limit, got, tt.want)
			}
		})
	}
	t.Run("maintained on every write path", func(t *testing.T) {
		if _, err := st.UpdateByID(ctx, "ix", "m", "a", map[string]any{"$set": map[string]any{"power": 9.0}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateMany(ctx, "ix", "m", []store.Document{{"_id": "c", "power": 8.0}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Bulk(ctx, "ix", "m", []store.Document{{"_id": "d", "power": 0.5}, {"_id": "n", "code": "N", "power": 4.0}}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeleteMany(ctx, "ix", "m", sel(t, `{"code": "B"}`)); err != nil {
			t.Fatal(err)
		}
		if got, want := find(t, `{"power": {"$gte": 0}}`, `{"power": 1}`, 0), "d,n,c,a"; got != want {
			t.Errorf("by power after the writes: got %q, want %q", got, want)
		}
		if got, want := find(t, `{"power": {"$gt": 8.5}}`, "", 0), "a"; got != want {
			t.Errorf("power > 8.5: got %q, want %q", got, want)
		}
		// the code of b is free again after DeleteMany
		if _, err := st.Insert(ctx, "ix", "m", []store.Document{{"_id": "b2", "code": "B", "power": 2.0}}); err != nil {
			t.Fatal(err)
		}
		b := model.Batch{Edge: "e1", SeqFirst: 1, SeqLast: 1, Updates: []model.Update{
			{Layer: "ix", Collection: "m", ID: "b2", Set: map[string]any{"power": 3.0}, TS: time.Now()},
		}}
		b.SeqLast = b.SeqFirst + uint64(len(b.Updates)) - 1
		if _, err := st.ApplyBatch(ctx, &b, store.ApplyOptions{}); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		if got, want := find(t, `{"power": {"$gte": 3, "$lt": 4}}`, "", 0), "b2"; got != want {
			t.Errorf("after ApplyBatch, 3 <= power < 4: got %q, want %q", got, want)
		}
		if _, err := st.Bulk(ctx, "ix", "m", []store.Document{{"_id": "z", "code": "Z", "power": 1.0}}, true); err != nil {
			t.Fatal(err)
		}
		if got, want := find(t, `{"power": {"$gte": 0}}`, "", 0), "z"; got != want {
			t.Errorf("after Bulk with init: got %q, want %q", got, want)
		}
		if got, want := find(t, `{"code": "A"}`, "", 0), ""; got != want {
			t.Errorf("after Bulk with init, code A: got %q, want %q", got, want)
		}
	})
	t.Run("drop", func(t *testing.T) {
		l := indexLayer(t)
		l.Collections[0].Indexes = l.Collections[0].Indexes[2:] // no unique code index
		if err := st.PutLayer(ctx, l); err != nil {
			t.Fatal(err)
		}
		res, err := st.Insert(ctx, "ix", "m", []store.Document{{"_id": "y", "code": "Z"}})
		if err != nil || res.OK != 1 {
			t.Fatalf("duplicate code after the unique index was dropped: %+v %v", res, err)
		}
		got, err := st.Layer(ctx, "ix")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.Collection("m").Indexes); n != 2 {
			t.Errorf("declarations after the drop: %d, want 2", n)
		}
		if got, want := find(t, `{"code": "Z"}`, "", 0), "y,z"; got != want {
			t.Errorf("code Z: got %q, want %q", got, want)
		}
	})
}

// testIndexDeclarations checks that bad declarations are refused with the
// field path in the message.
func (s *suite) testIndexDeclarations(t *testing.T, st store.Store) {
	tests := []struct{ decl, want string }{
		{`{"fields": {}}`, "fields is empty"},
		{`{"fields": {"a": 2}}`, `fields."a": want 1, -1 or "2dsphere"`},
		{`{"fields": {"a..b": 1}}`, `fields."a..b": empty segment`},
		{`{"fields": {"$a": 1}}`, `fields."$a"`},
		{`{"fields": {"_seq": 1}}`, "internal field"},
		{`{"fields": {"geometry": "2dsphere", "a": 1}}`, "exactly one field"},
		{`{"fields": {"timestamp": 1}}`, "default index"},
		{`{"fields": {"_id": 1}}`, "_id is always indexed"},
	}
	for _, tt := range tests {
		t.Run(tt.decl, func(t *testing.T) {
			var l store.Layer
			js := fmt.Sprintf(`{"_id": "bad", "collections": [{"name": "m", "indexes": [%s]}]}`, tt.decl)
			if err := json.Unmarshal([]byte(js), &l); err != nil {
				t.Fatalf("decode: %v", err)
			}
			err := st.PutLayer(ctx, l)
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("PutLayer: got %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), `collections[0] ("m").indexes[0]`) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want the path collections[0] (\"m\").indexes[0] and %q", err, tt.want)
			}
		})
	}
}
