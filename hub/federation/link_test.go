package federation

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// proxy forwards TCP connections to a target; cut closes them all and
// refuses new ones until restore.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	// accepted counts the connections forwarded since the start
	accepted int
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			target := p.target
			p.mu.Unlock()
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // cut while this one was being dialled: it is cut too
				p.mu.Unlock()
				c.Close()
				u.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.accepted++
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

// retarget forwards the next connections to target.
func (p *proxy) retarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// connections returns how many connections were forwarded.
func (p *proxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// cut closes the listener and every connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestLinkCutResumes cuts the leaf-node link while A keeps writing, then
// restarts B while A keeps writing: every change arrives once, in order.
func TestLinkCutResumes(t *testing.T) {
	ctx := context.Background()
	a := startDeployment(t, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB,
		Export: []Grant{{Layer: "dso"}}}}}, "")
	px := newProxy(t, strings.TrimPrefix(a.leaf, "nats-leaf://"))
	bCfg := Config{Peers: []Peer{{Name: "a", URL: "nats-leaf://" + px.addr, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}}}}}}
	bDir := t.TempDir()
	b := startDeployment(t, "b", bCfg, bDir)
	a.layer(t, "dso", "meters")

	const perPhase = 300
	n := 0
	write := func(k int) {
		for range k {
			id := fmt.Sprintf("m%d", n%(perPhase*2)) // later phases update earlier documents
			if _, err := a.st.Bulk(ctx, "dso", "meters", []store.Document{{"_id": id, "n": float64(n)}}, false); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	status := func(d *deployment) PeerStatus { st, _ := d.svc.Status("a"); return st }
	write(perPhase)
	waitFor(t, "the first changes at B", 20*time.Second, func() bool { return status(b).Applied > 0 })

	px.cut()
	waitFor(t, "B to see the link down", 20*time.Second, func() bool {
		b.svc.refreshLink(ctx, "a")
		return status(b).Link == "down"
	})
	write(perPhase)
	time.Sleep(200 * time.Millisecond)
	px.restore()

	// B restarts (its store and streams kept) while A writes on
	waitFor(t, "the second phase at B", 30*time.Second, func() bool { return status(b).Applied >= 2*perPhase })
	b.stop()
	write(perPhase)
	b = startDeployment(t, "b", bCfg, bDir)

	total := uint64(3 * perPhase)
	deadline := time.Now().Add(60 * time.Second)
	for status(b).Applied < total {
		if time.Now().After(deadline) {
			b.svc.refreshLink(ctx, "a")
			ex, _ := a.svc.Status("b")
			t.Fatalf("timed out: B %+v; A %+v", status(b), ex)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would show up here
	if st := status(b); st.Applied != total || st.Failed != 0 {
		t.Fatalf("B applied %d changes (%d failed), want exactly %d", st.Applied, st.Failed, total)
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
	// the documents hold the last value written at A
	for i := range perPhase * 2 {
		id := fmt.Sprintf("m%d", i)
		want, got := a.doc("dso", "meters", id), b.doc("dso", "meters", id)
		if got == nil || got["n"] != want["n"] {
			t.Fatalf("%s: B has %v, A has %v", id, got, want)
		}
	}
}
