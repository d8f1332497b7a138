package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/shared/tlsconf"
	"github.com/gridedge/gridedge/shared/tlstest"
)

// cutter is a TCP proxy in front of a gateway port whose link can be cut
// (open connections closed, new ones refused) and restored.
type cutter struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{l: l, target: target, conns: map[net.Conn]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go c.serve(in)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done; c.set(true) })
	return c
}

func (c *cutter) addr() string { return c.l.Addr().String() }

func (c *cutter) serve(in net.Conn) {
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", c.target, time.Second)
	if err != nil {
		c.mu.Unlock()
		in.Close()
		return
	}
	c.conns[in], c.conns[out] = true, true
	c.mu.Unlock()
	go func() { _, _ = io.Copy(out, in); out.Close() }()
	_, _ = io.Copy(in, out)
	in.Close()
	c.mu.Lock()
	delete(c.conns, in)
	delete(c.conns, out)
	c.mu.Unlock()
}

// set cuts (true) or restores (false) the link.
func (c *cutter) set(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for conn := range c.conns {
			conn.Close()
		}
	}
}

// TestGatewayOptions: a gateway without a cluster, one whose name is not
// the cluster's, a remote listed twice or without URLs, and a bad URL are
// refused with an error naming what is wrong.
func TestGatewayOptions(t *testing.T) {
	cl := &ClusterOptions{Name: "east", Listen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}}
	west := RemoteGateway{Name: "west", URLs: []string{"nats://127.0.0.1:7222"}}
	cases := []struct {
		name    string
		cluster *ClusterOptions
		gw      GatewayOptions
		want    string
	}{
		{"no cluster", nil, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{west}}, "set the cluster too"},
		{"other name", cl, GatewayOptions{Name: "north", Listen: "127.0.0.1:0", Gateways: []RemoteGateway{west}}, `gateway name "north" differs from the cluster name "east"`},
		{"listed twice", cl, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{west, west}}, `gateway "west" is listed twice`},
		{"itself", cl, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{{Name: "east", URLs: west.URLs}}}, `gateway "east" is listed twice (or is this cluster)`},
		{"no URL", cl, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{{Name: "west"}}}, `gateway "west" has no URL`},
		{"bad URL", cl, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{{Name: "west", URLs: []string{"west:7222"}}}}, `"west:7222" is not a URL`},
		{"no name", cl, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{{URLs: west.URLs}}}, "needs the name of its cluster"},
		{"bad listen", cl, GatewayOptions{Listen: "7222", Gateways: []RemoteGateway{west}}, `gateway listen address "7222"`},
		{"plaintext with RequireTLS", cl, GatewayOptions{Listen: "127.0.0.1:0", Gateways: []RemoteGateway{west}}, "TLS is required but a listener has none: gateway 127.0.0.1:0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Start(Options{Domain: "d", ServerName: "n1", StoreDir: t.TempDir(), Logger: quiet, Cluster: c.cluster, Gateway: &c.gw,
				RequireTLS: strings.Contains(c.name, "RequireTLS")})
			if err == nil {
				b.Shutdown()
				t.Fatalf("started; want an error with %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// superNode is one node of the test supercluster.
type superNode struct {
	b       *Broker
	cluster string
}

// startSupercluster starts cluster east (2 nodes) and west (1 node) joined
// by gateways through cutters, so the test can cut the link between the
// regions; every gateway connection crosses a cutter since each node
// advertises its cutter's address.
func startSupercluster(t *testing.T) (nodes []superNode, cutters []*cutter) {
	t.Helper()
	type spec struct{ name, cluster string }
	specs := []spec{{"east1", "east"}, {"east2", "east"}, {"west1", "west"}}
	routePorts, gwPorts := map[string]int{}, map[string]int{}
	gwURL := map[string]string{}
	for _, s := range specs {
		routePorts[s.name], gwPorts[s.name] = freeRoutePort(t), freeRoutePort(t)
		c := newCutter(t, fmt.Sprintf("127.0.0.1:%d", gwPorts[s.name]))
		cutters = append(cutters, c)
		gwURL[s.name] = c.addr()
	}
	routes := func(cluster string) []string {
		var rs []string
		for _, s := range specs {
			if s.cluster == cluster {
				rs = append(rs, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[s.name]))
			}
		}
		return rs
	}
	for _, s := range specs {
		other := "west"
		if s.cluster == "west" {
			other = "east"
		}
		var urls []string
		for _, o := range specs {
			if o.cluster == other {
				urls = append(urls, "nats://"+gwURL[o.name])
			}
		}
		b, err := Start(Options{Domain: "d", ServerName: s.name, StoreDir: t.TempDir(), Logger: quiet, LeafListen: "127.0.0.1:0",
			Edges:   []EdgeCredential{{ID: "e-east", Password: "edge-secret"}, {ID: "e-west", Password: "edge-secret"}},
			Cluster: &ClusterOptions{Name: s.cluster, Listen: fmt.Sprintf("127.0.0.1:%d", routePorts[s.name]), Routes: routes(s.cluster)},
			Gateway: &GatewayOptions{Listen: fmt.Sprintf("127.0.0.1:%d", gwPorts[s.name]), Advertise: gwURL[s.name],
				Gateways: []RemoteGateway{{Name: other, URLs: urls}}}})
		if err != nil {
			t.Fatalf("start %s: %v", s.name, err)
		}
		t.Cleanup(b.Shutdown)
		nodes = append(nodes, superNode{b, s.cluster})
	}
	for _, n := range nodes {
		ctx, cancel := contextWithTimeout(60 * time.Second)
		err := n.b.WaitJetStream(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	return nodes, cutters
}

func jsOf(t *testing.T, b *Broker) jetstream.JetStream {
	t.Helper()
	nc, err := b.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// waitFor polls cond every 20 ms until it holds or d has passed, and
// returns how long that took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not after %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestSupercluster: two clusters joined by gateways form one JetStream;
// an edge stream placed in a cluster lives on that cluster's nodes; a
// message published in one region is read through the other region's
// node. With the gateway link cut, each region keeps writing to and
// reading from its own streams (the write path of an edge never crosses
// the gateway), while JetStream's meta layer (creating streams) answers
// only on the side holding the majority of the nodes; after the link is
// restored every node answers again and the streams hold every message
// once.
func TestSupercluster(t *testing.T) {
	nodes, cutters := startSupercluster(t)
	east, west := nodes[0].b, nodes[2].b
	waitFor(t, 20*time.Second, "gateways up", func() bool {
		return len(east.Gateways()) == 1 && len(nodes[1].b.Gateways()) == 1 && len(west.Gateways()) == 1
	})
	if got := west.ClusterName(); got != "west" {
		t.Fatalf("west1's cluster: %q", got)
	}
	ctx, cancel := contextWithTimeout(2 * time.Minute)
	defer cancel()
	jsEast, jsWest := jsOf(t, east), jsOf(t, west)
	// both streams created from east: placement, not the requester,
	// decides the cluster
	for _, s := range []struct{ edge, cluster string }{{"e-east", "east"}, {"e-west", "west"}} {
		st, err := jsEast.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "INGEST_" + s.edge, Subjects: []string{"d.ingest." + s.edge},
			Retention: jetstream.WorkQueuePolicy, Placement: &jetstream.Placement{Cluster: s.cluster}})
		if err != nil {
			t.Fatalf("create the stream of %s in %s: %v", s.edge, s.cluster, err)
		}
		if got := st.CachedInfo().Cluster.Name; got != s.cluster {
			t.Fatalf("stream of %s placed in %q, want %q", s.edge, got, s.cluster)
		}
		if _, err := jsEast.CreateOrUpdateConsumer(ctx, "INGEST_"+s.edge, jetstream.ConsumerConfig{Durable: "applier", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "west1 leads the consumer of e-west", func() bool { return west.LeadsConsumer("INGEST_e-west", "applier") })
	if east.LeadsConsumer("INGEST_e-west", "applier") || nodes[1].b.LeadsConsumer("INGEST_e-west", "applier") {
		t.Fatal("an east node leads the consumer of a stream placed in west")
	}

	publish := func(js jetstream.JetStream, edge string, n int) error {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "d.ingest."+edge, []byte(fmt.Sprint(n)), jetstream.WithMsgID(fmt.Sprintf("%s-%d", edge, n)))
		return err
	}
	// across the gateway: a message of west's edge sent through east
	if err := publish(jsEast, "e-west", 0); err != nil {
		t.Fatalf("publish e-west's stream through east: %v", err)
	}
	if err := publish(jsWest, "e-east", 0); err != nil {
		t.Fatalf("publish e-east's stream through west: %v", err)
	}

	for _, c := range cutters {
		c.set(true)
	}
	waitFor(t, 20*time.Second, "gateways down", func() bool { return len(east.Gateways()) == 0 && len(west.Gateways()) == 0 })
	// each region writes its own edge's stream and reads it back
	for i := 1; i <= 20; i++ {
		if err := publish(jsWest, "e-west", i); err != nil {
			t.Fatalf("west, gateway cut: publish %d: %v", i, err)
		}
		if err := publish(jsEast, "e-east", i); err != nil {
			t.Fatalf("east, gateway cut: publish %d: %v", i, err)
		}
	}
	cons, err := jsWest.Consumer(ctx, "INGEST_e-west", "applier")
	if err != nil {
		t.Fatalf("west, gateway cut: the consumer of its edge: %v", err)
	}
	if got := fetchAll(t, cons, 21); got != 21 {
		t.Fatalf("west, gateway cut: read %d messages of e-west, want 21", got)
	}
	// the meta layer: east holds 2 of the 3 nodes
	mctx, mcancel := context.WithTimeout(ctx, 3*time.Second)
	_, errWest := jsWest.CreateStream(mctx, jetstream.StreamConfig{Name: "CUT_WEST", Subjects: []string{"cut.west"}, Placement: &jetstream.Placement{Cluster: "west"}})
	mcancel()
	if errWest == nil {
		t.Fatal("west created a stream without the majority of the supercluster's nodes")
	}
	// when the meta leader was west's node, east elects another first:
	// seconds, more on a loaded machine, so east gets 45 s of attempts
	var errEast error
	for deadline := time.Now().Add(45 * time.Second); ; {
		mctx, mcancel = context.WithTimeout(ctx, 5*time.Second)
		_, errEast = jsEast.CreateStream(mctx, jetstream.StreamConfig{Name: "CUT_EAST", Subjects: []string{"cut.east"}, Placement: &jetstream.Placement{Cluster: "east"}})
		mcancel()
		if errEast == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if errEast != nil {
		t.Fatalf("east (2 of 3 nodes) could not create a stream with the gateway cut: %v", errEast)
	}

	restored := time.Now()
	for _, c := range cutters {
		c.set(false)
	}
	waitFor(t, 30*time.Second, "gateways back", func() bool { return len(east.Gateways()) == 1 && len(west.Gateways()) == 1 })
	gwBack := time.Since(restored)
	waitFor(t, 30*time.Second, "west answers the meta layer again", func() bool {
		mctx, mcancel := context.WithTimeout(ctx, 2*time.Second)
		defer mcancel()
		_, err := jsWest.CreateOrUpdateStream(mctx, jetstream.StreamConfig{Name: "CUT_WEST", Subjects: []string{"cut.west"}, Placement: &jetstream.Placement{Cluster: "west"}})
		return err == nil
	})
	t.Logf("gateway link restored: gateways up again after %s, west's JetStream meta requests answered after %s",
		gwBack.Round(time.Millisecond), time.Since(restored).Round(time.Millisecond))
	// e-east's stream: 1 message sent through west before the cut, 20 during it, none twice
	st, err := jsWest.Stream(ctx, "INGEST_e-east")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 21 {
		t.Fatalf("e-east's stream holds %d messages, want 21", info.State.Msgs)
	}
	var apiErr *jetstream.APIError
	if errors.As(errWest, &apiErr) {
		t.Logf("west's stream creation with the gateway cut: %v", apiErr)
	}
}

// fetchAll fetches and acknowledges up to want messages of cons and
// returns how many it got.
func fetchAll(t *testing.T, cons jetstream.Consumer, want int) int {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(10 * time.Second); got < want && time.Now().Before(deadline); {
		batch, err := cons.Fetch(want-got, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				t.Fatalf("ack: %v", err)
			}
			got++
		}
	}
	return got
}

// Attack test of nats.gateway.tls with a CA file: two one-node clusters
// with gateway certificates from the CA join; nodes claiming to be cluster
// b with a certificate from another CA, a server-only certificate or no
// TLS never get a gateway connection to a, nor a's to them.
func TestGatewayMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "gateways")
	ca.Peer(t, "a", "a.pem", "a.key")
	ca.Peer(t, "b", "b.pem", "b.key")
	ca.Server(t, "server-only", "server-only.pem", "server-only.key")
	rogue := tlstest.NewCA(t, "rogue")
	rogue.Peer(t, "b", "rogue.pem", "rogue.key")
	files := func(c *tlstest.CA, name string) *tlsconf.Files {
		return &tlsconf.Files{CertFile: c.Path(name + ".pem"), KeyFile: c.Path(name + ".key"), CAFile: ca.CertFile}
	}
	gwA := freeRoutePort(t)
	start := func(server, cluster string, gwPort int, remote RemoteGateway, tf *tlsconf.Files) *Broker {
		t.Helper()
		route := freeRoutePort(t)
		b, err := Start(Options{Domain: "d", ServerName: server, StoreDir: t.TempDir(), Logger: quiet,
			Cluster: &ClusterOptions{Name: cluster, Listen: fmt.Sprintf("127.0.0.1:%d", route), Routes: []string{fmt.Sprintf("nats://127.0.0.1:%d", route)}},
			Gateway: &GatewayOptions{Listen: fmt.Sprintf("127.0.0.1:%d", gwPort), Gateways: []RemoteGateway{remote}, TLS: tf}})
		if err != nil {
			t.Fatalf("start %s: %v", server, err)
		}
		t.Cleanup(b.Shutdown)
		return b
	}
	gwB := freeRoutePort(t)
	toA := RemoteGateway{Name: "a", URLs: []string{fmt.Sprintf("nats://127.0.0.1:%d", gwA)}}
	a := start("a1", "a", gwA, RemoteGateway{Name: "b", URLs: []string{fmt.Sprintf("nats://127.0.0.1:%d", gwB)}}, files(ca, "a"))
	b := start("b1", "b", gwB, toA, files(ca, "b"))
	waitFor(t, 20*time.Second, "gateways a-b up", func() bool { return len(a.Gateways()) == 1 && len(b.Gateways()) == 1 })
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
		started = append(started, start(in.name, "b", freeRoutePort(t), toA, in.tls))
	}
	time.Sleep(3 * time.Second) // several attempts of each intruder
	inbound := func(br *Broker) int {
		gz, err := br.srv.Gatewayz(nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, conns := range gz.InboundGateways {
			n += len(conns)
		}
		return n
	}
	if n := inbound(a); n != 1 {
		t.Errorf("a has %d inbound gateway connections, want 1 (b1's)", n)
	}
	for i, in := range started {
		if got := in.Gateways(); len(got) != 0 {
			t.Errorf("intruder %s has an outbound gateway to %v", intruders[i].name, got)
		}
		if n := inbound(in); n != 0 {
			t.Errorf("intruder %s has %d inbound gateway connections", intruders[i].name, n)
		}
	}
}
