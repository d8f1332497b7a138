package broker

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
)

// Attack tests for the NATS account boundaries: edge credentials are for
// leaf links only, client users cannot connect as leaf nodes, and an edge
// can send to no inbox but its own and the replies it was asked for.
func TestAttackAccountBoundaries(t *testing.T) {
	b, err := Start(Options{Domain: "d", ServerName: "hub", ClientListen: "127.0.0.1:-1", LeafListen: "127.0.0.1:0", StoreDir: t.TempDir(),
		Edges: []EdgeCredential{{ID: "e1", Password: "secret-1-long"}, {ID: "e2", Password: "secret-2-long"}},
		Users: []ClientUser{{User: "tool", Password: "tool-secret", Publish: []string{"d.>"}, Subscribe: []string{"d.>", subject.EdgeInbox("e1") + ".>"}}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()

	t.Run("edge credentials on the client port", func(t *testing.T) {
		if nc, err := nats.Connect(b.ClientURL(), nats.UserInfo("e1", "secret-1-long")); err == nil {
			nc.Close()
			t.Fatal("edge e1's credentials opened a client connection; want leaf links only")
		}
	})
	t.Run("client user as a leaf node", func(t *testing.T) {
		leaf(t, b.LeafURL(), "tool", "tool-secret")
		time.Sleep(500 * time.Millisecond)
		if n := b.NumLeafNodes(); n != 0 {
			t.Fatalf("%d leaf nodes: a client user connected as a leaf node", n)
		}
	})
	t.Run("edge publishing to inboxes", func(t *testing.T) {
		hub, err := b.Connect("test")
		if err != nil {
			t.Fatal(err)
		}
		defer hub.Close()
		e1 := leaf(t, b.LeafURL(), "e1", "secret-1-long")
		deadline := time.Now().Add(10 * time.Second)
		for b.NumLeafNodes() != 1 {
			if time.Now().After(deadline) {
				t.Fatal("e1 did not connect")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// a tool asks the edge something, with the edge's inbox prefix: the
		// edge may answer that request
		nc, err := nats.Connect(e1.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Subscribe(subject.EdgeControl("d", "e1", subject.ActionStatus), func(m *nats.Msg) { m.Respond([]byte("ok")) }); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		// another client's (or edge's) inbox: e1 must not reach it
		stolen, err := hub.SubscribeSync("_INBOX.victim.>")
		if err != nil {
			t.Fatal(err)
		}
		e2inbox, err := hub.SubscribeSync(subject.EdgeInbox("e2") + ".>")
		if err != nil {
			t.Fatal(err)
		}
		hub.Flush()
		var answered bool
		tool, err := nats.Connect(b.ClientURL(), nats.UserInfo("tool", "tool-secret"), nats.CustomInboxPrefix(subject.EdgeInbox("e1")))
		if err != nil {
			t.Fatal(err)
		}
		defer tool.Close()
		for i := 0; i < 50 && !answered; i++ {
			if m, err := tool.Request(subject.EdgeControl("d", "e1", subject.ActionStatus), nil, 200*time.Millisecond); err == nil && string(m.Data) == "ok" {
				answered = true
			}
		}
		if !answered {
			t.Fatal("the edge could not answer the hub's request")
		}
		nc.Publish("_INBOX.victim.x", []byte("forged"))
		nc.Publish(subject.EdgeInbox("e2")+".x", []byte("forged"))
		nc.Flush()
		for _, s := range []*nats.Subscription{stolen, e2inbox} {
			if m, err := s.NextMsg(500 * time.Millisecond); err == nil {
				t.Errorf("edge e1 published to %s", m.Subject)
			}
		}
	})
}
