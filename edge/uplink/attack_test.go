package uplink

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/subject"
)

// hubStream is a hub-like INGEST stream on a fresh server, and a connection to it.
func hubStream(t *testing.T) (*nats.Conn, jetstream.Stream) {
	t.Helper()
	srv := natsServer(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	s, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "INGEST", Subjects: []string{subject.IngestAll("d")}})
	if err != nil {
		t.Fatal(err)
	}
	return nc, s
}

func runForwarder(t *testing.T, f *Forwarder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A "duplicate" answer deletes a batch only when the hub's high-water mark
// of this edge covers it: another edge (or a local process) that published
// this edge's message id first must not make the agent drop the batch.
func TestAttackPoisonedDuplicateKeepsTheBatch(t *testing.T) {
	nc, _ := hubStream(t)
	answerHWM(t, nc, "d", "e2", 0)
	// the attacker's batch with e2's next message id, on its own subject
	js, _ := jetstream.New(nc)
	poison := nats.NewMsg(subject.Ingest("d", "e1"))
	poison.Data = []byte("x")
	poison.Header.Set(nats.MsgIdHdr, "e2:1-2")
	if _, err := js.PublishMsg(context.Background(), poison); err != nil {
		t.Fatal(err)
	}
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	fill(t, buf, 2)
	f := NewForwarder(nc, buf, ForwarderOptions{Edge: "e2", Domain: "d", MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet})
	runForwarder(t, f)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := buf.Stats(); st.Depth != 2 {
			t.Fatalf("buffer depth %d after a duplicate answer the hub's high-water mark 0 does not cover, want 2 (batch kept)", st.Depth)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := f.Stats(); st.Sent != 0 || st.LastError == "" {
		t.Fatalf("stats %+v: want nothing sent and the unconfirmed duplicate reported", st)
	}
}

// When the hub's high-water mark of this edge moves above what the edge has
// numbered (its batches would be skipped as replays), the forwarder
// re-aligns its sequence above it without waiting for a restart.
func TestAttackRealignsWhenBatchesWouldBeSkipped(t *testing.T) {
	nc, s := hubStream(t)
	var hwm atomic.Uint64
	if _, err := nc.Subscribe(subject.EdgeControl("d", "e1", subject.ActionHWM), func(m *nats.Msg) {
		m.Respond([]byte(fmt.Sprintf(`{"edge":"e1","hwm":%d}`, hwm.Load())))
	}); err != nil {
		t.Fatal(err)
	}
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	fill(t, buf, 2)
	f := NewForwarder(nc, buf, ForwarderOptions{Edge: "e1", Domain: "d", RealignInterval: 50 * time.Millisecond, Logger: quiet})
	runForwarder(t, f)
	waitMsgs := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if info, _ := s.Info(context.Background()); info.State.Msgs == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream does not reach %d batches", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitMsgs(1)
	hwm.Store(1_000_000) // e.g. a jump the hub applied before it quarantined them
	time.Sleep(300 * time.Millisecond)
	fill(t, buf, 1)
	waitMsgs(2)
	m, err := s.GetMsg(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Header.Get(nats.MsgIdHdr), "e1:1000001-1000001"; got != want {
		t.Fatalf("batch after the hub's mark moved: %s, want %s", got, want)
	}
}

// Local apps on the edge's bus read live readings and call the agent's
// services; none, authenticated or not, may publish on the subjects the
// edge sends to the hub (batches, heartbeats, high-water-mark requests) or
// answer into the agent's inbox.
func TestAttackLocalBusCannotPublishHubBound(t *testing.T) {
	const domain, edge = "d", "e1"
	leaf, err := StartLeaf(LeafOptions{Edge: edge, Domain: domain, LocalListen: "127.0.0.1:0",
		LocalUser: "app", LocalPassword: "app-secret-1", AnonymousRead: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer leaf.Shutdown()
	agent, err := leaf.Connect("agent", edge)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	hubBound, err := agent.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	agent.Flush()
	anon, err := nats.Connect(leaf.ClientURL())
	if err != nil {
		t.Fatalf("anonymous read-only connection refused: %v", err)
	}
	defer anon.Close()
	app, err := nats.Connect(leaf.ClientURL(), nats.UserInfo("app", "app-secret-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := nats.Connect(leaf.ClientURL(), nats.UserInfo("app", "wrong")); err == nil {
		t.Fatal("wrong local password accepted")
	}
	forbidden := []string{subject.Ingest(domain, edge), subject.Heartbeat(domain, edge),
		subject.EdgeControl(domain, edge, subject.ActionHWM), subject.EdgeInbox(edge) + ".x", subject.Ingest(domain, "e2")}
	for _, c := range []*nats.Conn{anon, app} {
		for _, s := range forbidden {
			c.Publish(s, []byte("forged"))
		}
		c.Flush()
	}
	// allowed: a live reading the agent publishes reaches a local reader, and
	// the app may call the agent's status service
	live, err := anon.SubscribeSync(subject.LiveAll(domain, edge))
	if err != nil {
		t.Fatal(err)
	}
	anon.Flush()
	app.Publish(subject.EdgeControl(domain, edge, subject.ActionStatus), []byte("status?"))
	app.Flush()
	agent.Publish(subject.Live(domain, edge, "site", "meters", "M1"), []byte("{}"))
	agent.Flush()
	if _, err := live.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("anonymous reader got no live reading: %v", err)
	}
	for {
		m, err := hubBound.NextMsg(500 * time.Millisecond)
		if err != nil {
			break
		}
		if string(m.Data) == "forged" {
			t.Errorf("a local app published on %s", m.Subject)
		}
	}
}
