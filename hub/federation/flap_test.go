package federation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// TestLinkFlaps cuts and restores the leaf-node link five times, for
// different lengths of outage, while A writes without pause (updates of the
// same documents over and over): B applies every change exactly once (its
// count, its high-water mark and FED_IN_a's messages all equal A's
// writes) and ends with A's documents.
func TestLinkFlaps(t *testing.T) {
	ctx := context.Background()
	a := startDeployment(t, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB,
		Export: []Grant{{Layer: "dso"}}}}}, "")
	px := newProxy(t, strings.TrimPrefix(a.leaf, "nats-leaf://"))
	b := startDeployment(t, "b", Config{Peers: []Peer{{Name: "a", URL: "nats-leaf://" + px.addr, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}}}}}}, "")
	a.layer(t, "dso", "meters")
	status := func() PeerStatus { st, _ := b.svc.Status("a"); return st }

	const docs = 150
	var (
		mu      sync.Mutex
		written int
		werr    error
	)
	wctx, stopWriting := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; wctx.Err() == nil; n++ {
			id := fmt.Sprintf("m%d", n%docs)
			if _, err := a.st.Bulk(ctx, "dso", "meters", []store.Document{{"_id": id, "n": float64(n)}}, false); err != nil {
				mu.Lock()
				werr = fmt.Errorf("write %d at A: %w", n, err)
				mu.Unlock()
				return
			}
			mu.Lock()
			written = n + 1
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return written }

	waitFor(t, "the first changes at B", 20*time.Second, func() bool { return status().Applied > 0 })
	for i, outage := range []time.Duration{0, 50 * time.Millisecond, 300 * time.Millisecond, 20 * time.Millisecond, time.Second} {
		px.cut()
		time.Sleep(outage)
		atCut := count()
		px.restore()
		// the link is back when B applies a change written while it was cut
		waitFor(t, fmt.Sprintf("B to resume after cut %d", i+1), 20*time.Second, func() bool {
			return status().Applied > uint64(atCut)
		})
	}
	stopWriting()
	wg.Wait()
	if got := px.connections(); got < 6 {
		t.Fatalf("the link was opened %d times, want 6 (once, then after each of 5 cuts)", got)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	total := uint64(count())
	waitFor(t, fmt.Sprintf("B to apply all %d changes", total), 20*time.Second, func() bool { return status().Applied >= total })
	time.Sleep(300 * time.Millisecond) // a duplicate would show up here
	if st := status(); st.Applied != total || st.AppliedSeq != total || st.Failed != 0 {
		t.Fatalf("B applied %d changes up to sequence %d (%d failed), want exactly %d", st.Applied, st.AppliedSeq, st.Failed, total)
	}
	if ex, _ := a.svc.Status("b"); ex.Exported != total {
		t.Fatalf("A exported %d, want %d", ex.Exported, total)
	}
	in, err := b.svc.js.Stream(ctx, StreamIn("a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := in.CachedInfo().State.Msgs; got != total {
		t.Fatalf("FED_IN_a holds %d changes, want %d (no loss, no duplicate)", got, total)
	}
	for i := range docs {
		id := fmt.Sprintf("m%d", i)
		want, got := a.doc("dso", "meters", id), b.doc("dso", "meters", id)
		if got == nil || got["n"] != want["n"] {
			t.Fatalf("%s: B has %v, A has %v", id, got, want)
		}
	}
	t.Logf("%d changes across 5 cuts of the link", total)
}
