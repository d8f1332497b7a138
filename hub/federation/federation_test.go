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
		{"conditional update", func() error {
			_, err := b.st.UpdateIf(ctx, "city-dso", "substations", "s1", nil, map[string]any{"kv": 1.0})
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

var (
	linkBC = Credentials{User: "link-c", Password: "b-c-long-link-secret"}
	linkCA = Credentials{User: "link-ca", Password: "c-a-long-link-secret"}
)

// TestChainReExport: A→B, B→C. A change at A reaches C only when B
// re-exports the imported layer, and C, exporting the layer on to A, does
// not send A's change back to A.
func TestChainReExport(t *testing.T) {
	for _, reExport := range []bool{false, true} {
		name := "B does not re-export"
		if reExport {
			name = "B re-exports, C exports on to A"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			aPeers := []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso"}}}}
			a := startDeployment(t, "a", Config{Peers: aPeers}, "")
			bToC := []Grant{{Layer: "grid"}}
			if reExport {
				bToC = append(bToC, Grant{Layer: "dso"})
			}
			b := startDeployment(t, "b", Config{Peers: []Peer{
				{Name: "a", URL: a.leaf, Credentials: linkAB, Import: []Import{{Grant: Grant{Layer: "dso"}}}},
				{Name: "c", Credentials: linkBC, Export: bToC},
			}}, "")
			cPeers := []Peer{{Name: "b", URL: b.leaf, Credentials: linkBC,
				Import: []Import{{Grant: Grant{Layer: "dso"}}, {Grant: Grant{Layer: "grid"}}}}}
			if reExport {
				// C would send dso on to A; the link itself is not needed to
				// see that nothing is put into FED_OUT_a (and a link C→A
				// would close a cycle of leaf-node links, which NATS refuses)
				cPeers = append(cPeers, Peer{Name: "a", Credentials: linkCA, Export: []Grant{{Layer: "dso"}}})
			}
			c := startDeployment(t, "c", Config{Peers: cPeers}, "")

			a.layer(t, "dso", "substations")
			b.layer(t, "grid", "lines")
			if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "x", "kv": 20.0}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "x at B", 20*time.Second, func() bool { return b.doc("dso", "substations", "x") != nil })
			if _, err := b.st.Insert(ctx, "grid", "lines", []store.Document{{"_id": "y"}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "y at C", 20*time.Second, func() bool { return c.doc("grid", "lines", "y") != nil })
			if !reExport {
				if c.doc("dso", "substations", "x") != nil {
					t.Fatal("A's change reached C although B does not re-export it")
				}
				waitFor(t, "C to count y", 20*time.Second, func() bool { st, _ := c.svc.Status("b"); return st.Applied >= 1 })
				st, _ := c.svc.Status("b")
				if st.Refused != 0 || st.Applied != 1 {
					t.Fatalf("C's status %+v: want 1 applied (y), none refused", st)
				}
				return
			}
			waitFor(t, "x at C", 20*time.Second, func() bool { return c.doc("dso", "substations", "x") != nil })
			// the origin is recorded once the group is applied, just after
			// the document is visible
			waitFor(t, "C to record the origin of dso, [a b]", 10*time.Second, func() bool {
				o := c.svc.origin("dso")
				return len(o) == 2 && o[0] == "a" && o[1] == "b"
			})
			// C exports dso to A, but every change of it came from A
			waitFor(t, "C not sending x back to A", 20*time.Second, func() bool {
				st, _ := c.svc.Status("a")
				return st.NotSentBack >= 1
			})
			if st, _ := c.svc.Status("a"); st.Exported != 0 {
				t.Fatalf("C exported %d changes to A, want 0", st.Exported)
			}
			info, err := c.svc.js.Stream(ctx, StreamOut("a"))
			if err != nil {
				t.Fatal(err)
			}
			if n := info.CachedInfo().State.Msgs; n != 0 {
				t.Fatalf("FED_OUT_a at C holds %d changes, want 0", n)
			}
		})
	}
}

// TestPeerReachesOnlyItsStream: over the link, B's requests to A's
// JetStream API other than sourcing its own stream never reach A.
func TestPeerReachesOnlyItsStream(t *testing.T) {
	ctx := context.Background()
	a, b := pairAB(t, "", "")
	a.layer(t, "dso", "substations")
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s1"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s1 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s1") != nil })
	for _, subj := range []string{
		"$JS.a.API.STREAM.DELETE." + StreamOut("b"),
		"$JS.a.API.STREAM.PURGE." + StreamOut("b"),
		"$JS.a.API.STREAM.NAMES",
		"$JS.a.API.INFO",
	} {
		if _, err := b.nc.Request(subj, nil, 300*time.Millisecond); err == nil {
			t.Errorf("%s: A answered B's request", subj)
		}
	}
	if _, err := a.svc.js.Stream(ctx, StreamOut("b")); err != nil {
		t.Fatalf("FED_OUT_b at A: %v", err)
	}
}
