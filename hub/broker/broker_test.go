package broker

import (
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/subject"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// leaf starts an edge-like server connected as a leaf node with the given credentials.
func leaf(t *testing.T, hubLeafURL, user, pass string) *server.Server {
	t.Helper()
	u, err := url.Parse(hubLeafURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	srv, err := server.NewServer(&server.Options{
		ServerName: "edge-" + user + "-" + pass, Port: -1, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("leaf not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

func TestEdgePermissionsAndCredentials(t *testing.T) {
	b, err := Start(Options{Domain: "d", ServerName: "hub", LeafListen: "127.0.0.1:0", StoreDir: t.TempDir(),
		Edges: []EdgeCredential{{ID: "e1", Password: "secret-1-long"}, {ID: "e2", Password: "secret-2-long"}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	hub, err := b.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	got := make(chan string, 10)
	if _, err := hub.Subscribe("d.>", func(m *nats.Msg) { got <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	hub.Flush()

	// wrong password: the leaf never connects
	leaf(t, b.LeafURL(), "e2", "wrong-password")
	e1 := leaf(t, b.LeafURL(), "e1", "secret-1-long")
	deadline := time.Now().Add(10 * time.Second)
	for b.NumLeafNodes() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d leaf nodes connected, want exactly 1 (e1)", b.NumLeafNodes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n := b.NumLeafNodes(); n != 1 {
		t.Fatalf("%d leaf nodes: the edge with a wrong password got in", n)
	}
	nc, err := nats.Connect(e1.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// allowed, then forbidden subjects: only the allowed ones reach the hub
	for _, s := range []string{subject.Ingest("d", "e2"), subject.Heartbeat("d", "e2"), "d.storage.changed.x.y",
		subject.Ingest("d", "e1"), subject.Heartbeat("d", "e1")} {
		if err := nc.Publish(s, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()
	want := []string{subject.Ingest("d", "e1"), subject.Heartbeat("d", "e1")}
	for _, w := range want {
		select {
		case s := <-got:
			if s != w {
				t.Fatalf("hub received %q, want %q (a forbidden subject crossed the leaf link?)", s, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("hub did not receive %q", w)
		}
	}
	select {
	case s := <-got:
		t.Fatalf("hub received unexpected %q", s)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestStartRejectsBadEdges(t *testing.T) {
	for _, es := range [][]EdgeCredential{
		{{ID: "a.b", Password: "x"}},
		{{ID: "a", Password: ""}},
		{{ID: "a", Password: "p"}, {ID: "a", Password: "q"}},
	} {
		if b, err := Start(Options{Domain: "d", LeafListen: "127.0.0.1:0", StoreDir: t.TempDir(), Edges: es, Logger: quiet}); err == nil {
			b.Shutdown()
			t.Errorf("edges %+v: want an error", es)
		}
	}
}

func TestClientUsersArePermissioned(t *testing.T) {
	b, err := Start(Options{Domain: "d", ClientListen: "127.0.0.1:-1", StoreDir: t.TempDir(), Logger: quiet,
		Users: []ClientUser{{User: "tool", Password: "tool-secret", Publish: []string{"d.forecast.>"}, Subscribe: []string{"d.storage.changed.>"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	if _, err := nats.Connect(b.ClientURL(), nats.UserInfo("tool", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	nc, err := nats.Connect(b.ClientURL(), nats.UserInfo("tool", "tool-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hub, _ := b.Connect("test")
	defer hub.Close()
	got := make(chan string, 4)
	hub.Subscribe("d.>", func(m *nats.Msg) { got <- m.Subject })
	hub.Flush()
	nc.Publish("d.ingest.e1", nil) // not allowed
	nc.Publish("d.forecast.model.create", nil)
	nc.Flush()
	select {
	case s := <-got:
		if s != "d.forecast.model.create" {
			t.Fatalf("hub received %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("allowed publish not received")
	}
	if _, err := Start(Options{Domain: "d", StoreDir: t.TempDir(), Logger: quiet, LeafListen: "127.0.0.1:0",
		Edges: []EdgeCredential{{ID: "x", Password: "p"}}, Users: []ClientUser{{User: "x", Password: "q"}}}); err == nil {
		t.Fatal("a user named like an edge was accepted")
	}
}

// Port 0 in a listen address is any free port, for every listener, as
// with net.Listen; nats-server alone reads 0 as 4222 for clients (the
// hub's default port: two such hubs could not start at once), as no
// route listener (a cluster node nobody can reach) and as a gateway
// without a port (refused).
func TestListenPortZeroIsAnyFreePort(t *testing.T) {
	clientPorts := map[int]bool{}
	for _, name := range []string{"n1", "n2"} {
		b, err := Start(Options{Domain: "d", ServerName: name, StoreDir: t.TempDir(), Logger: quiet,
			ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
			Cluster: &ClusterOptions{Name: "east", Listen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}},
			Gateway: &GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{{Name: "west", URLs: []string{"nats://127.0.0.1:1"}}}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(b.Shutdown)
		u, err := url.Parse(b.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(u.Port())
		if err != nil || p == 0 || p == 4222 || clientPorts[p] {
			t.Errorf("%s: client URL %s, want a free port of its own", name, b.ClientURL())
		}
		clientPorts[p] = true
		if a := b.srv.ClusterAddr(); a == nil || a.Port == 0 {
			t.Errorf("%s: no route listener (%v)", name, a)
		}
		if a := b.srv.GatewayAddr(); a == nil || a.Port == 0 {
			t.Errorf("%s: no gateway listener (%v)", name, a)
		}
	}
	for _, hp := range []string{"127.0.0.1:-2", "127.0.0.1:65536"} {
		if b, err := Start(Options{Domain: "d", StoreDir: t.TempDir(), Logger: quiet, ClientListen: hp}); err == nil {
			b.Shutdown()
			t.Errorf("client listen %s: started", hp)
		} else if !strings.Contains(err.Error(), "out of range") {
			t.Errorf("client listen %s: %v, want it to say the port is out of range", hp, err)
		}
	}
}
