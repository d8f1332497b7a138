package uplink

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
)

// hubWithLeafListener is a hub-like server: a leaf-node listener where the
// edge authenticates as a user with the hub's edge permissions (as
// hub/broker.EdgePermissions grants them), and a subscriber to everything.
func hubWithLeafListener(t *testing.T, domain, edge string) (leafURL string, _ *nats.Conn) {
	t.Helper()
	leafURL, nc, _ := hubServer(t, domain, edge)
	return leafURL, nc
}

// hubServer is hubWithLeafListener, with the server.
func hubServer(t *testing.T, domain, edge string) (leafURL string, _ *nats.Conn, _ *server.Server) {
	t.Helper()
	return hubServerWith(t, domain, edge, nil)
}

// hubServerWith is hubServer with options changed by with (when not nil).
func hubServerWith(t *testing.T, domain, edge string, with func(*server.Options)) (leafURL string, _ *nats.Conn, _ *server.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	perms := &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			subject.Ingest(domain, edge), subject.EdgeAll(domain, edge), subject.EdgeInbox(edge) + ".>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			subject.EdgeAll(domain, edge), subject.EdgeInbox(edge) + ".>"}},
	}
	opts := &server.Options{Port: -1, NoSigs: true, NoLog: true,
		Users:    []*server.User{{Username: edge, Password: "pw", Permissions: perms}, {Username: "hub", Password: "hubpw"}},
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: port}}
	if with != nil {
		with(opts)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("hub", "hubpw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return fmt.Sprintf("nats-leaf://127.0.0.1:%d", port), nc, srv
}

// Live subjects have interest on the edge only while a local app listens:
// the hub's services (heartbeats, the INGEST stream) and a hub-side
// subscriber to the live subjects do not create any over the leaf link. (A
// hub user allowed to subscribe to ">" would: nats-server propagates a
// wildcard that covers subjects the edge may publish; see Leaf.Interest.)
func TestLiveInterestOnlyFromLocalSubscribers(t *testing.T) {
	const domain, edge = "d", "e1"
	hubURL, hubNC := hubWithLeafListener(t, domain, edge)
	for _, subj := range []string{subject.LiveAll(domain, edge), subject.IngestAll(domain), subject.HeartbeatAll(domain), subject.HWMAll(domain)} {
		if _, err := hubNC.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
	}
	hubNC.Flush()
	leaf, err := StartLeaf(LeafOptions{Edge: edge, HubURL: hubURL, User: edge, Password: "pw", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer leaf.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for !leaf.HubConnected() || !leaf.Interest(subject.Ingest(domain, edge)) {
		if time.Now().After(deadline) {
			t.Fatalf("leaf link up %v, ingest interest %v: want both", leaf.HubConnected(), leaf.Interest(subject.Ingest(domain, edge)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	live := subject.Live(domain, edge, "site", "meters", "M1")
	if leaf.Interest(live) {
		t.Fatalf("interest in %s without a local subscriber: the hub's subscriptions reached the edge", live)
	}
	app, err := leaf.Connect("local-app", edge)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	sub, err := app.SubscribeSync(subject.LiveAll(domain, edge))
	if err != nil {
		t.Fatal(err)
	}
	app.Flush()
	if !leaf.Interest(live) {
		t.Fatalf("no interest in %s with a local subscriber", live)
	}
	sub.Unsubscribe()
	app.Flush()
	if leaf.Interest(live) {
		t.Fatalf("interest in %s after the local subscriber left", live)
	}
}

// A local listener on port 0 takes any free port, as net.Listen does:
// nats-server alone takes 0 for its default, 4222, which the hub (or
// another leaf) on the same machine may hold. Two leaves on ":0" both
// start, each on a port of its own, reached through ClientURL.
func TestLocalListenPortZeroIsAnyFreePort(t *testing.T) {
	var urls []string
	for _, edge := range []string{"e1", "e2"} {
		leaf, err := StartLeaf(LeafOptions{Edge: edge, Domain: "d", LocalListen: "127.0.0.1:0", AnonymousRead: true, Logger: quiet})
		if err != nil {
			t.Fatalf("leaf %s: %v", edge, err)
		}
		defer leaf.Shutdown()
		nc, err := nats.Connect(leaf.ClientURL())
		if err != nil {
			t.Fatalf("connect to leaf %s at %s: %v", edge, leaf.ClientURL(), err)
		}
		nc.Close()
		urls = append(urls, leaf.ClientURL())
	}
	if urls[0] == urls[1] || urls[0] == "nats://127.0.0.1:4222" {
		t.Errorf("leaves listen at %v: want two free ports", urls)
	}
}
