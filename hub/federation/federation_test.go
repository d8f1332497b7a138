package federation

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
)

var linkAB = Credentials{User: "link-b", Password: "a-long-link-secret"}

// pairAB starts A exporting dso/substations to B, and B importing it as
// city-dso over a link B opens.
func pairAB(t *testing.T, aDir, bDir string) (a, b *deployment) {
	a = startDeployment(t, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB,
		Export: []Grant{{Layer: "dso", Collections: []string{"substations"}}}}}}, aDir)
	b = startDeployment(t, "b", Config{Peers: []Peer{{Name: "a", URL: a.leaf, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}, As: "city-dso"}}}}}, bDir)
	return a, b
}

func TestChangeAtAReachesBRenamed(t *testing.T) {
	ctx := context.Background()
	a, b := pairAB(t, "", "")
	a.layer(t, "dso", "substations", "feeders")
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s1", "name": "North", "kv": 20.0, "commissioned": when}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.Insert(ctx, "dso", "feeders", []store.Document{{"_id": "f1"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s1 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s1") != nil })
	got := b.doc("city-dso", "substations", "s1")
	if got["name"] != "North" || got["kv"] != 20.0 {
		t.Fatalf("B has %v", got)
	}
	if d, ok := got["commissioned"].(time.Time); !ok || !d.Equal(when) {
		t.Fatalf("the date arrived as %T %v", got["commissioned"], got["commissioned"])
	}
	if b.doc("dso", "substations", "s1") != nil {
		t.Fatal("B wrote under the peer's layer name instead of the renamed one")
	}

	// an update that removes a field, then a delete
	if _, err := a.st.UpdateByID(ctx, "dso", "substations", "s1", map[string]any{"$set": map[string]any{"kv": 110.0}, "$unset": map[string]any{"name": ""}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update at B", 20*time.Second, func() bool {
		d := b.doc("city-dso", "substations", "s1")
		_, hasName := d["name"]
		return d["kv"] == 110.0 && !hasName
	})
	if err := a.st.DeleteByID(ctx, "dso", "substations", "s1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delete at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s1") == nil })

	// a collection A does not export never reaches B
	if _, err := b.raw.Get(ctx, "city-dso", "feeders", "f1"); err == nil {
		t.Fatal("a collection that is not exported reached B")
	}
	st, _ := a.svc.Status("b")
	if st.Exported != 3 {
		t.Fatalf("A exported %d changes, want 3 (insert, update, delete; not the feeder)", st.Exported)
	}
	waitFor(t, "B's status document", 20*time.Second, func() bool {
		d := b.doc(StatusLayer, StatusCollection, "a")
		imp, _ := d["imports"].(map[string]any)
		return d["link"] == "up" && d["applied"] == 3.0 && imp["city-dso"] != nil
	})
}

func TestBCannotWriteIntoTheImportedLayer(t *testing.T) {
	ctx := context.Background()
	a, b := pairAB(t, "", "")
	a.layer(t, "dso", "substations")
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s1", "kv": 20.0}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s1 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s1") != nil })
	writes := []struct {
		name  string
		write func() error
	}{
		{"insert", func() error {
			_, err := b.st.Insert(ctx, "city-dso", "substations", []store.Document{{"_id": "s2"}})
			return err
		}},
		{"update", func() error {
			_, err := b.st.UpdateByID(ctx, "city-dso", "substations", "s1", map[string]any{"kv": 1.0})
			return err
		}},
		{"delete", func() error { return b.st.DeleteByID(ctx, "city-dso", "substations", "s1") }},
		{"bulk", func() error {
			_, err := b.st.Bulk(ctx, "city-dso", "substations", []store.Document{{"_id": "s1", "kv": 1.0}}, false)
			return err
		}},
		{"drop layer", func() error { return b.st.DeleteLayer(ctx, "city-dso") }},
		{"change layer", func() error { return b.st.PutLayer(ctx, store.Layer{ID: "city-dso"}) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			err := w.write()
			if !errors.Is(err, ErrReadOnly) || !errors.Is(err, auth.ErrForbidden) {
				t.Fatalf("got %v, want ErrReadOnly (403)", err)
			}
		})
	}
	if d := b.doc("city-dso", "substations", "s1"); d["kv"] != 20.0 {
		t.Fatalf("the imported document changed: %v", d)
	}
}
