package federation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// TestRing: three deployments whose links form a ring (B opens to A, C to
// B, A to C), each exporting its own layer to the next, and ax re-exported
// all the way round: every link stays up (NATS' loop detection would
// close one of a ring of leaf-node links that pass interest on; the links
// are isolated), each layer reaches the next deployment, and A's change
// never comes back to A.
func TestRing(t *testing.T) {
	ctx := context.Background()
	px := newProxy(t, "127.0.0.1:1") // A's link to C, aimed at C once it listens
	aCfg := Config{Peers: []Peer{
		{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "ax"}}},
		{Name: "c", URL: "nats-leaf://" + px.addr, Credentials: linkCA, Import: []Import{{Grant: Grant{Layer: "cx"}}}},
	}}
	aDir := t.TempDir()
	a := startDeployment(t, "a", aCfg, aDir)
	pxA := newProxy(t, strings.TrimPrefix(a.leaf, "nats-leaf://")) // B's link to A, which restarts
	b := startDeployment(t, "b", Config{Peers: []Peer{
		{Name: "a", URL: "nats-leaf://" + pxA.addr, Credentials: linkAB, Import: []Import{{Grant: Grant{Layer: "ax"}}}},
		{Name: "c", Credentials: linkBC, Export: []Grant{{Layer: "bx"}, {Layer: "ax"}}},
	}}, "")
	cDir := t.TempDir()
	c := startDeployment(t, "c", Config{Peers: []Peer{
		{Name: "b", URL: b.leaf, Credentials: linkBC, Import: []Import{{Grant: Grant{Layer: "bx"}}, {Grant: Grant{Layer: "ax"}}}},
		{Name: "a", Credentials: linkCA, Export: []Grant{{Layer: "cx"}, {Layer: "ax"}}},
	}}, cDir)
	px.retarget(strings.TrimPrefix(c.leaf, "nats-leaf://"))
	// A restarts with C there, rather than wait for JetStream's next try to
	// source C's stream, which backs off after failures
	a.stop()
	a = startDeployment(t, "a", aCfg, aDir)
	pxA.retarget(strings.TrimPrefix(a.leaf, "nats-leaf://"))
	links := func() bool {
		return b.br.LeafRemoteConnected("nats-leaf://"+pxA.addr) && c.br.LeafRemoteConnected(b.leaf) && a.br.LeafRemoteConnected("nats-leaf://"+px.addr)
	}
	waitFor(t, "the three links of the ring", 20*time.Second, links)

	a.layer(t, "ax", "things")
	b.layer(t, "bx", "things")
	c.layer(t, "cx", "things")
	for _, w := range []struct {
		d     *deployment
		layer string
	}{{a, "ax"}, {b, "bx"}, {c, "cx"}} {
		if _, err := w.d.st.Insert(ctx, w.layer, "things", []store.Document{{"_id": "t1", "from": w.d.domain}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "ax at B and C, bx at C, cx at A", 30*time.Second, func() bool {
		return b.doc("ax", "things", "t1") != nil && c.doc("ax", "things", "t1") != nil &&
			c.doc("bx", "things", "t1") != nil && a.doc("cx", "things", "t1") != nil
	})
	waitFor(t, "C to record the origin of ax, [a b]", 10*time.Second, func() bool {
		o := c.svc.origin("ax")
		return len(o) == 2 && o[0] == "a" && o[1] == "b"
	})
	// C exports ax to A, but A's change came from A
	waitFor(t, "C not sending ax back to A", 20*time.Second, func() bool {
		st, _ := c.svc.Status("a")
		return st.NotSentBack >= 1
	})
	if st, _ := c.svc.Status("a"); st.Exported != 1 {
		t.Fatalf("C exported %d changes to A, want 1 (cx only)", st.Exported)
	}
	// a change made later still goes round: the links stayed up
	time.Sleep(time.Second)
	if !links() {
		t.Fatal("a link of the ring closed")
	}
	if _, err := c.st.Insert(ctx, "cx", "things", []store.Document{{"_id": "t2"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "t2 at A", 20*time.Second, func() bool { return a.doc("cx", "things", "t2") != nil })
	if st, _ := a.svc.Status("c"); st.Looped != 0 || st.Refused != 0 || st.Applied != 2 {
		t.Fatalf("A's import from C %+v: want 2 applied (cx), nothing looped or refused", st)
	}

	// C restarts: its reconciliation knows ax came from A and sends it
	// nothing of it either
	cCfg := c.cfg
	c.stop()
	c = startDeployment(t, "c", cCfg, cDir)
	px.retarget(strings.TrimPrefix(c.leaf, "nats-leaf://"))
	if st, _ := c.svc.Status("a"); st.Reconciled != 0 {
		t.Fatalf("C's reconciliation sent %d changes to A, want none (ax came from A, cx was sent)", st.Reconciled)
	}
}
