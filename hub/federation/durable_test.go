package federation

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// TestExportSurvivesLostChangeEvents: changes committed at A whose change
// events were never published (written to A's store past the change feed,
// as when the hub is killed between the commit and the publish) reach B
// after A restarts; the documents B already has are neither sent again
// nor rewritten there.
func TestExportSurvivesLostChangeEvents(t *testing.T) {
	ctx := context.Background()
	aCfg := Config{Peers: []Peer{{Name: "b", Credentials: linkAB,
		Export: []Grant{{Layer: "dso", Collections: []string{"substations"}}}}}}
	aDir := t.TempDir()
	a, b, restartA := exporterRestarts(t, aCfg, aDir, "", []Import{{Grant: Grant{Layer: "dso"}, As: "city-dso"}})
	a.layer(t, "dso", "substations", "feeders")
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	docs := []store.Document{
		{"_id": "s1", "kv": 20.0, "commissioned": when, "tags": []any{"north", 1.0}},
		{"_id": "s2", "kv": 110.0},
		{"_id": "s.3 with/odd id", "kv": 0.4, "nested": map[string]any{"at": when}},
	}
	if _, err := a.st.Insert(ctx, "dso", "substations", docs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for st, _ := b.svc.Status("a"); st.Applied != 3; st, _ = b.svc.Status("a") {
		if time.Now().After(deadline) {
			ex, _ := a.svc.Status("b")
			t.Fatalf("timed out waiting for the documents at B: B %+v, A %+v", st, ex)
		}
		time.Sleep(20 * time.Millisecond)
	}
	keep := b.doc("city-dso", "substations", "s.3 with/odd id")
	if keep == nil {
		t.Fatal("B lacks the document with an odd id")
	}

	// what B writes from now on
	var mu sync.Mutex
	var announced []string
	sub, err := b.nc.Subscribe(subject.StorageChangedAll("b"), func(m *nats.Msg) {
		mu.Lock()
		announced = append(announced, m.Subject)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// committed at A, never announced: an update, a delete, an insert, and
	// a change of a collection that is not exported
	if _, err := a.raw.UpdateByID(ctx, "dso", "substations", "s1", map[string]any{"$set": map[string]any{"kv": 30.0}, "$unset": map[string]any{"tags": ""}}); err != nil {
		t.Fatal(err)
	}
	if err := a.raw.DeleteByID(ctx, "dso", "substations", "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.raw.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s4", "kv": 0.23}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.raw.Insert(ctx, "dso", "feeders", []store.Document{{"_id": "f1"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if d := b.doc("city-dso", "substations", "s1"); d["kv"] != 20.0 {
		t.Fatalf("B got the change before A restarted: %v (the test writes past the change feed)", d)
	}
	before, _ := b.svc.Status("a")
	t.Logf("%s stopping A", time.Now().Format("15:04:05.000"))

	a = restartA(a)

	t.Logf("%s A restarted", time.Now().Format("15:04:05.000"))
	waitFor(t, "the missed changes at B", 30*time.Second, func() bool {
		s1, s4 := b.doc("city-dso", "substations", "s1"), b.doc("city-dso", "substations", "s4")
		_, tags := s1["tags"]
		return s1["kv"] == 30.0 && !tags && s4["kv"] == 0.23 && b.doc("city-dso", "substations", "s2") == nil
	})
	if st, _ := a.svc.Status("b"); st.Reconciled != 3 || st.Exported != 3 {
		t.Fatalf("A's status after the restart %+v: want 3 changes reconciled and exported (s1, s2, s4)", st)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would show up here
	after, _ := b.svc.Status("a")
	if got := after.Applied - before.Applied; got != 3 || after.Unchanged != 0 {
		t.Fatalf("B applied %d changes (%d unchanged) after A's restart, want 3", got, after.Unchanged)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(announced) != 3 {
		t.Fatalf("B announced %d writes, want 3: %v", len(announced), announced)
	}
	if d := b.doc("city-dso", "substations", "s.3 with/odd id"); d[store.FieldUpdated] != keep[store.FieldUpdated] {
		t.Fatalf("B rewrote a document that did not change: %v then %v", keep, d)
	}
	if b.doc("city-dso", "feeders", "f1") != nil {
		t.Fatal("a collection that is not exported reached B")
	}

	t.Logf("%s the missed changes reached B", time.Now().Format("15:04:05.000"))
	// another restart with nothing missed exports nothing
	a = restartA(a)
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s5"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s5 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s5") != nil })
	if st, _ := a.svc.Status("b"); st.Reconciled != 0 || st.Exported != 1 {
		t.Fatalf("A's status after a clean restart %+v: want nothing reconciled, 1 exported", st)
	}
}

// exporterRestarts starts A with aCfg (exporting to b) and B (in bDir)
// importing imports from A over a link B opens through a proxy, so that A can
// restart on another port: restartA stops a and starts A again.
func exporterRestarts(t *testing.T, aCfg Config, aDir, bDir string, imports []Import) (a, b *deployment, restartA func(*deployment) *deployment) {
	a = startDeployment(t, "a", aCfg, aDir)
	px := newProxy(t, strings.TrimPrefix(a.leaf, "nats-leaf://"))
	b = startDeployment(t, "b", Config{Peers: []Peer{{Name: "a", URL: "nats-leaf://" + px.addr, Credentials: linkAB, Import: imports}}}, bDir)
	return a, b, func(a *deployment) *deployment {
		a.stop()
		a = startDeployment(t, "a", aCfg, aDir)
		px.retarget(strings.TrimPrefix(a.leaf, "nats-leaf://"))
		return a
	}
}

// TestExportedMarks: what the reconciliation takes from FED_OUT's last
// messages per subject.
func TestExportedMarks(t *testing.T) {
	put := func(id string, doc map[string]any) []byte {
		b, err := (&Change{Origin: []string{"a"}, Op: OpPut, Layer: "l", Collection: "c", ID: id, Doc: doc}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	drop, _ := (&Change{Origin: []string{"a"}, Op: OpDrop, Layer: "l", Collection: "c"}).Marshal()
	ex := exported{docs: map[string]map[string]mark{}, drops: map[string]uint64{}}
	ex.add("c.d.eDE", 1, put("x1", map[string]any{"_id": "x1"}))           // base64url("x1")
	ex.add("c.d.eDI", 2, put("x1", map[string]any{"_id": "x1"}))           // subject and id disagree: ignored
	ex.add("c.d.!!", 3, put("x3", map[string]any{"_id": "x3"}))            // not base64: ignored
	ex.add("c.drop", 4, drop)                                              //
	ex.add("c", 5, put("old", map[string]any{"_id": "old"}))               // the old subject: only drops count
	ex.add("k", 6, drop)                                                   // an old-style drop of collection k
	ex.add("c.d.eDQ", 7, put("x4", map[string]any{"_id": "x4", "v": 1.0})) // base64url("x4")
	if got := len(ex.docs["c"]); got != 2 {
		t.Fatalf("marks %v, want x1 and x4", ex.docs["c"])
	}
	if ex.drops["c"] != 4 || ex.drops["k"] != 6 {
		t.Fatalf("drops %v", ex.drops)
	}
	if m := ex.docs["c"]["x4"]; m.op != OpPut || m.seq != 7 || string(m.doc) != `{"_id":"x4","v":1}` {
		t.Fatalf("mark of x4 %+v %s", m, m.doc)
	}
}

// TestUntransformedSourceKept: an importer whose FED_IN was made before its
// source had subject transforms keeps it as it is after a restart (see
// keepUntransformed); a new one has them. Neither sources FED_OUT again.
func TestUntransformedSourceKept(t *testing.T) {
	ctx := context.Background()
	bDir := t.TempDir()
	a, b := pairAB(t, "", bDir)
	source := func(d *deployment) (transforms int, msgs uint64) {
		str, err := d.svc.js.Stream(ctx, StreamIn("a"))
		if err != nil {
			t.Fatal(err)
		}
		info, err := str.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(info.Config.Sources[0].SubjectTransforms), info.State.Msgs
	}
	if n, _ := source(b); n != 3 {
		t.Fatalf("a new FED_IN has %d subject transforms, want 3", n)
	}
	a.layer(t, "dso", "substations")
	insert := func(ids ...string) {
		for _, id := range ids {
			if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": id}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert("s1", "s2", "s3")
	waitFor(t, "3 changes at B", 20*time.Second, func() bool { st, _ := b.svc.Status("a"); return st.Applied == 3 })
	// FED_IN as it was made before the transforms
	str, err := b.svc.js.Stream(ctx, StreamIn("a"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := str.CachedInfo().Config
	cfg.Sources[0].SubjectTransforms = nil
	if _, err := b.svc.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// (that change itself sources FED_OUT again: 3 more messages)
	waitFor(t, "FED_IN to source FED_OUT again", 20*time.Second, func() bool { _, m := source(b); return m == 6 })

	bCfg := b.cfg
	b.stop()
	b = startDeployment(t, "b", bCfg, bDir)
	insert("s4", "s5")
	waitFor(t, "s5 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s5") != nil })
	time.Sleep(time.Second) // a second sourcing would show here
	if n, m := source(b); n != 0 || m != 8 {
		t.Fatalf("after the restart FED_IN has %d transforms and %d messages, want 0 and 8 (6 + s4, s5)", n, m)
	}
}

// TestExportReconcilesAfterAGap: changes committed past the change feed
// while the hub runs are exported once its connection was re-established
// (the feed may have missed events meanwhile), without a restart.
func TestExportReconcilesAfterAGap(t *testing.T) {
	ctx := context.Background()
	a, b := pairAB(t, "", "")
	a.layer(t, "dso", "substations")
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s1", "kv": 20.0}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "s1 at B", 20*time.Second, func() bool { return b.doc("city-dso", "substations", "s1") != nil })
	if _, err := a.raw.UpdateByID(ctx, "dso", "substations", "s1", map[string]any{"$set": map[string]any{"kv": 30.0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.raw.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s2"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * gapCheckEvery)
	if b.doc("city-dso", "substations", "s2") != nil {
		t.Fatal("s2 reached B before any gap (the test writes past the change feed)")
	}
	if err := a.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the missed changes at B", 20*time.Second, func() bool {
		return b.doc("city-dso", "substations", "s2") != nil && b.doc("city-dso", "substations", "s1")["kv"] == 30.0
	})
	if st, _ := a.svc.Status("b"); st.Reconciled != 2 || st.Exported != 3 {
		t.Fatalf("A's status %+v: want 2 changes reconciled, 3 exported", st)
	}
}
