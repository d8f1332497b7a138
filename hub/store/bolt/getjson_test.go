package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/hub/store"
)

// GetJSON gives the bytes encoding/json writes for the document Get
// returns, for documents the store wrote and for stored forms it did not
// write (dates with an offset or more digits, spaces, escapes).
func TestGetJSONIsGetEncoded(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.PutLayer(ctx, store.Layer{ID: "g", Collections: []store.Collection{{Name: "m"}}}); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123_000_000, time.UTC)
	docs := []store.Document{
		genDoc(5),
		{"_id": "dates", "t": ts, "arr": []any{ts, map[string]any{"at": ts}}},
		{"_id": "text", "s": `{"$date":"2024-01-01T00:00:00Z"}`, "q": `quote " \ </script> & ` + "\u2028", "u": "žluť 🙂"},
	}
	if res, err := s.Insert(ctx, "g", "m", docs); err != nil || res.Err != 0 {
		t.Fatal(res.Errors, err)
	}
	raw := map[string]string{
		"offset":  `{"_id":"offset","t":{"$date":"2024-05-01T12:00:00.000+02:00"}}`,
		"spaced":  `{ "_id" : "spaced", "t" : { "$date" : "2024-05-01T10:00:00Z" } }`,
		"escape":  `{"_id":"escape","t":{"$date":"2024-05-01T10:00:00\u005a"}}`,
		"notDate": `{"_id":"notDate","a":{"$date":"soon"},"b":{"$date":"2024-01-01T00:00:00Z","x":1},"c":{"$date":5}}`,
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		c, err := collection(tx, "g", "m")
		if err != nil {
			return err
		}
		for id, v := range raw {
			if err := c.docs.Put([]byte(id), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// written by hand, with no _updated: removed at the end
	defer s.db.Update(func(tx *bbolt.Tx) error {
		c, err := collection(tx, "g", "m")
		if err != nil {
			return err
		}
		for id := range raw {
			if err := c.docs.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, id := range []string{"g000005", "dates", "text", "offset", "spaced", "escape", "notDate"} {
		doc, err := s.Get(ctx, "g", "m", id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetJSON(ctx, "g", "m", id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: GetJSON\n%s\nwant Get encoded\n%s", id, got, want)
		}
	}
	// through a decorator, and a missing document as from Get
	ws := store.WithChanges(s, func(store.Change) {})
	if _, ok, err := store.GetJSON(ctx, ws, "g", "m", "dates"); !ok || err != nil {
		t.Errorf("store.GetJSON through WithChanges: ok %v, %v", ok, err)
	}
	_, _, err = store.GetJSON(ctx, ws, "g", "m", "nope")
	_, gerr := s.Get(ctx, "g", "m", "nope")
	if !errors.Is(err, store.ErrNotFound) || err.Error() != gerr.Error() {
		t.Errorf("missing document: %v, want %v", err, gerr)
	}
	if _, err := s.GetJSON(ctx, "g", "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing collection: %v, want ErrNotFound", err)
	}
	var v any
	if got, _ := s.GetJSON(ctx, "g", "m", "dates"); json.Unmarshal(got, &v) != nil || !reflect.DeepEqual(v.(map[string]any)["t"], "2024-05-01T10:00:00.123Z") {
		t.Errorf("dates: t is %v, want the RFC 3339 string", v)
	}
}
