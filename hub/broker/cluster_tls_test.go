package broker

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/shared/tlsconf"
	"github.com/gridedge/gridedge/shared/tlstest"
)

// routePeers are the server names at the other end of b's routes.
func routePeers(t *testing.T, b *Broker) []string {
	t.Helper()
	rz, err := b.srv.Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range rz.Routes {
		if !seen[r.RemoteName] {
			seen[r.RemoteName] = true
			names = append(names, r.RemoteName)
		}
	}
	sort.Strings(names)
	return names
}

// Attack test of nats.cluster.tls with a CA file: two nodes with route
// certificates from the cluster's CA form a JetStream cluster over mutual
// TLS routes (a replicated stream takes a message), while nodes dialling
// and listening with the same routes but a certificate from another CA, a
// server-only certificate from the right CA, or no TLS at all never become
// a route of either node.
func TestClusterRoutesMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "routes")
	ca.Peer(t, "hub1", "hub1.pem", "hub1.key")
	ca.Peer(t, "hub2", "hub2.pem", "hub2.key")
	ca.Server(t, "server-only", "server-only.pem", "server-only.key")
	rogue := tlstest.NewCA(t, "rogue")
	rogue.Peer(t, "rogue", "rogue.pem", "rogue.key")

	ports := []int{freeRoutePort(t), freeRoutePort(t)}
	routes := []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[0]), fmt.Sprintf("nats://127.0.0.1:%d", ports[1])}
	start := func(name string, port int, tf *tlsconf.Files) *Broker {
		t.Helper()
		b, err := Start(Options{Domain: "d", ServerName: name, StoreDir: t.TempDir(), Logger: quiet,
			Cluster: &ClusterOptions{Name: "c", Listen: fmt.Sprintf("127.0.0.1:%d", port), Routes: routes, TLS: tf}})
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(b.Shutdown)
		return b
	}
	files := func(c *tlstest.CA, name string) *tlsconf.Files {
		return &tlsconf.Files{CertFile: c.Path(name + ".pem"), KeyFile: c.Path(name + ".key"), CAFile: ca.CertFile}
	}
	hub1 := start("hub1", ports[0], files(ca, "hub1"))
	hub2 := start("hub2", ports[1], files(ca, "hub2"))
	for _, b := range []*Broker{hub1, hub2} {
		ctx, cancel := contextWithTimeout(30 * time.Second)
		err := b.WaitJetStream(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	nc, err := hub1.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, Replicas: 2}); err != nil {
		t.Fatalf("R2 stream over TLS routes: %v", err)
	}
	if _, err := js.Publish(ctx, "s", []byte("x")); err != nil {
		t.Fatalf("publish into the R2 stream: %v", err)
	}

	// the intruders list the real nodes' routes, and the real nodes know
	// theirs (they dial them when they listen on a listed port: here a
	// random one, so only the intruders dial)
	intruders := []struct {
		name string
		tls  *tlsconf.Files
	}{
		{"rogue-ca", &tlsconf.Files{CertFile: rogue.Path("rogue.pem"), KeyFile: rogue.Path("rogue.key"), CAFile: ca.CertFile}},
		{"server-only", files(ca, "server-only")},
		{"plaintext", nil},
	}
	var started []*Broker
	for _, in := range intruders {
		started = append(started, start(in.name, freeRoutePort(t), in.tls))
	}
	// give the intruders time for several route attempts (nats-server
	// retries a configured route every second)
	time.Sleep(3 * time.Second)
	for _, b := range []*Broker{hub1, hub2} {
		if got := routePeers(t, b); fmt.Sprint(got) != fmt.Sprint([]string{map[*Broker]string{hub1: "hub2", hub2: "hub1"}[b]}) {
			t.Errorf("%s has routes to %v: an intruder joined", b.srv.Name(), got)
		}
	}
	for i, b := range started {
		if got := routePeers(t, b); len(got) != 0 {
			t.Errorf("intruder %s has routes to %v", intruders[i].name, got)
		}
	}
}
