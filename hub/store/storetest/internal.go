package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// testInternalFields checks that no caller of the Store interface can write
// the store's internal fields (_seq, any other _-prefixed field but _id and
// _expired) with any write method or update operator, nor select, sort or
// project on them; and that the edge's apply path keeps working after such
// attempts (on the mongo backend a _seq.<edge> set far ahead froze that
// edge's updates of the document).
func (s *suite) testInternalFields(t *testing.T, st store.Store) {
	putDemo(t, st)
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.ApplyBatch(ctx, batch("e1", 1, ts, "A"), store.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, st, "meters", store.Document{"_id": "B", "x": 1.0, "list": []any{1.0}})
	// wantField checks err is ErrInvalid naming field.
	wantField := func(t *testing.T, what string, err error, field string) {
		t.Helper()
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), `"`+field+`"`) {
			t.Fatalf("%s: got error %v, want ErrInvalid naming %q", what, err, field)
		}
	}
	t.Run("UpdateByID", func(t *testing.T) {
		updates := []struct {
			name   string
			update map[string]any
			field  string
		}{
			{"plain", map[string]any{"_seq.e1": 1e15}, "_seq.e1"},
			{"$set", map[string]any{"$set": map[string]any{"_seq.e1": 1e15}}, "_seq.e1"},
			{"$set whole", map[string]any{"$set": map[string]any{"_seq": map[string]any{"e1": 1e15}}}, "_seq"},
			{"$inc", map[string]any{"$inc": map[string]any{"_seq.e1": 1e15}}, "_seq.e1"},
			{"$max", map[string]any{"$max": map[string]any{"_seq.e1": 1e15}}, "_seq.e1"},
			{"$min", map[string]any{"$min": map[string]any{"_seq.e1": -1.0}}, "_seq.e1"},
			{"$mul", map[string]any{"$mul": map[string]any{"_seq.e1": 2.0}}, "_seq.e1"},
			{"$unset", map[string]any{"$unset": map[string]any{"_seq": ""}}, "_seq"},
			{"$rename to", map[string]any{"$rename": map[string]any{"x": "_seq"}}, "_seq"},
			{"$rename from", map[string]any{"$rename": map[string]any{"_seq": "y"}}, "_seq"},
			{"$push", map[string]any{"$push": map[string]any{"_seq": 1.0}}, "_seq"},
			{"$addToSet", map[string]any{"$addToSet": map[string]any{"_seq": 1.0}}, "_seq"},
			{"$pull", map[string]any{"$pull": map[string]any{"_seq": 1.0}}, "_seq"},
			{"$pop", map[string]any{"$pop": map[string]any{"_seq": 1.0}}, "_seq"},
			{"$currentDate", map[string]any{"$currentDate": map[string]any{"_seq": true}}, "_seq"},
			{"other internal field", map[string]any{"$set": map[string]any{"_owner": "me"}}, "_owner"},
			{"_updated", map[string]any{"$set": map[string]any{"_updated": 1.0}}, "_updated"},
		}
		for _, tt := range updates {
			for _, id := range []string{"A", "B"} {
				_, err := st.UpdateByID(ctx, "demo", "meters", id, tt.update)
				wantField(t, tt.name+" on "+id, err, tt.field)
			}
		}
		if _, err := st.UpdateByID(ctx, "demo", "meters", "B", map[string]any{"$set": map[string]any{"_expired": true, "a._seq": 1.0}}); err != nil {
			t.Fatalf("_expired and a._seq: got %v, want them written", err)
		}
	})
	t.Run("Insert", func(t *testing.T) {
		res, err := st.Insert(ctx, "demo", "meters", []store.Document{
			{"_id": "C1", "_seq": map[string]any{"e1": 1e15}}, {"_id": "C2", "_seq.e1": 1e15}, {"_id": "C3", "_x": 1.0},
			{"_id": "C4", "_expired": true}})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != 1 || strings.Join(res.ErrorIDs, ",") != "C1,C2,C3" {
			t.Fatalf("got %d ok, failed %v (%v), want C4 inserted, C1,C2,C3 failed", res.OK, res.ErrorIDs, res.Errors)
		}
		for i, f := range []string{"_seq", "_seq.e1", "_x"} {
			if !strings.Contains(res.Errors[i], `"`+f+`"`) {
				t.Fatalf("error of %s: %q does not name %q", res.ErrorIDs[i], res.Errors[i], f)
			}
		}
	})
	t.Run("UpdateManyAndBulk", func(t *testing.T) {
		res, err := st.UpdateMany(ctx, "demo", "meters", []store.Document{{"_id": "A", "_seq.e1": 1e15}, {"_id": "B", "_seq": 1.0}})
		if err != nil || res.OK != 0 || res.Err != 2 {
			t.Fatalf("UpdateMany: got %+v, %v; want both refused", res, err)
		}
		res, err = st.Bulk(ctx, "demo", "meters", []store.Document{{"_id": "A", "_seq": map[string]any{"e1": 1e15}}, {"_id": "N", "_seq.e1": 1e15}}, false)
		if err != nil || res.OK != 0 || res.Err != 2 {
			t.Fatalf("Bulk: got %+v, %v; want both refused", res, err)
		}
		if _, err := st.Get(ctx, "demo", "meters", "N"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("N after the refused bulk insert: got %v, want ErrNotFound", err)
		}
	})
	t.Run("Reads", func(t *testing.T) {
		_, err := st.Find(ctx, "demo", "meters", store.FindOptions{Selector: sel(t, `{"_seq.e1": {"$gt": 0}}`)})
		wantField(t, "Find selector", err, "_seq.e1")
		_, err = st.Find(ctx, "demo", "meters", store.FindOptions{Selector: sel(t, `{"$or": [{"x": 1}, {"_seq": {"$exists": true}}]}`)})
		wantField(t, "Find $or selector", err, "_seq")
		_, err = st.Find(ctx, "demo", "meters", store.FindOptions{Sort: mustSort(t, `{"_seq.e1": -1}`)})
		wantField(t, "Find sort", err, "_seq.e1")
		_, err = st.Find(ctx, "demo", "meters", store.FindOptions{Projection: mustProj(t, `{"_seq": 1}`)})
		wantField(t, "Find projection", err, "_seq")
		_, err = st.Count(ctx, "demo", "meters", sel(t, `{"_seq.e1": 1}`))
		wantField(t, "Count", err, "_seq.e1")
		_, err = st.Range(ctx, "demo", "meters", "_seq.e1", time.Time{}, ts, store.FindOptions{})
		wantField(t, "Range field", err, "_seq.e1")
		_, err = st.Range(ctx, "demo", "meters", "timestamp", time.Time{}, ts, store.FindOptions{Selector: sel(t, `{"_seq.e1": 1}`)})
		wantField(t, "Range selector", err, "_seq.e1")
		_, err = st.Near(ctx, "demo", "assets", 0, 0, 1, store.FindOptions{Selector: sel(t, `{"_seq.e1": 1}`)})
		wantField(t, "Near selector", err, "_seq.e1")
		_, err = st.DeleteMany(ctx, "demo", "meters", sel(t, `{"_seq.e1": {"$lt": 10}}`))
		wantField(t, "DeleteMany", err, "_seq.e1")
		docs, err := st.Find(ctx, "demo", "meters", store.FindOptions{Selector: sel(t, `{"_updated": {"$exists": true}, "_expired": {"$in": [true, false]}}`),
			Sort: mustSort(t, `{"_updated": 1}`)})
		if err != nil || len(docs) != 3 {
			t.Fatalf("Find on _updated and _expired: got %d documents, %v; want 3", len(docs), err)
		}
		for _, d := range docs {
			if _, ok := d["_seq"]; ok {
				t.Fatalf("document %v shows _seq", d["_id"])
			}
		}
	})
	t.Run("EdgeStillApplies", func(t *testing.T) {
		if _, err := st.ApplyBatch(ctx, batch("e1", 2, ts.Add(time.Hour), "A"), store.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		a, err := st.Get(ctx, "demo", "meters", "A")
		if err != nil {
			t.Fatal(err)
		}
		if got := counter(t, a); got != 2 {
			t.Fatalf("A counter after the refused writes: got %v, want 2", got)
		}
		if _, ok := a["_seq"]; ok {
			t.Fatalf("A shows _seq: %v", a)
		}
	})
}
