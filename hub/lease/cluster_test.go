package lease

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterNode is one server of an embedded JetStream cluster.
type clusterNode struct {
	ns *natsserver.Server
	nc *nats.Conn // a hub's connection: to this server only, as a hub to its embedded one
}

// natsCluster starts n embedded nats-servers with JetStream forming one
// cluster, and waits until JetStream answers on each.
func natsCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		ns, err := natsserver.NewServer(&natsserver.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir(),
			Cluster: natsserver.ClusterOpts{Name: "lease", Host: "127.0.0.1", Port: ports[i]},
			Routes:  natsserver.RoutesFromStr(strings.Join(routes, ","))})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		t.Cleanup(ns.Shutdown)
		nodes[i] = &clusterNode{ns: ns}
	}
	for _, n := range nodes {
		if !n.ns.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s not ready", n.ns.Name())
		}
		nc, err := nats.Connect(n.ns.ClientURL(), nats.DontRandomize(), nats.NoReconnect())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		n.nc = nc
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "JetStream on "+n.ns.Name(), func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := js.AccountInfo(ctx)
			return err == nil
		})
	}
	return nodes
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bucketInfo returns the cluster view of a lease's bucket stream.
func bucketInfo(t *testing.T, nc *nats.Conn, bucket string) *jetstream.StreamInfo {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.StreamInfo
	waitFor(t, 30*time.Second, "the info of bucket "+bucket, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "KV_"+bucket)
		if err != nil {
			return false
		}
		info = s.CachedInfo()
		return info.Cluster != nil && info.Cluster.Leader != ""
	})
	return info
}

// nodeNamed returns the node whose server is name.
func nodeNamed(t *testing.T, nodes []*clusterNode, name string) int {
	t.Helper()
	i := slices.IndexFunc(nodes, func(n *clusterNode) bool { return n.ns.Name() == name })
	if i < 0 {
		t.Fatalf("no node %q", name)
	}
	return i
}

// TestLeaseSurvivesNodeLoss: in a 3-node JetStream cluster, three hubs
// (each connected to its own node, as a hub to its embedded server) share
// a lease whose bucket has 3 replicas. When the holder's node dies the
// lease moves to another hub once it expired; when the node leading the
// bucket dies (the only node a single-replica bucket lives on), the
// holder keeps renewing and nobody else takes it.
func TestLeaseSurvivesNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node JetStream cluster; skipped with -short")
	}
	const ttl = 2 * time.Second
	for _, tc := range []struct {
		name string
		// kill returns the node to kill, given the nodes, the hubs' leases
		// (hub i on node i) and the bucket's leader
		kill func(t *testing.T, leases []*Lease, leader int) int
		// check runs after the kill, on the leases of the surviving hubs
		check func(t *testing.T, leases []*Lease, killed, holder int)
	}{
		{"the holder's node dies: another hub takes over after the TTL", func(t *testing.T, leases []*Lease, leader int) int {
			// the holder's node is not the bucket's leader, so that this
			// case is about the holder only
			return (leader + 1) % len(leases)
		}, func(t *testing.T, leases []*Lease, killed, holder int) {
			start := time.Now()
			var took int
			waitFor(t, 30*time.Second, "a surviving hub to take the lease", func() bool {
				for i, l := range leases {
					if i != killed && l.Renew(context.Background()) {
						took = i
						return true
					}
				}
				return false
			})
			t.Logf("hub %d took the lease %v after the holder's node died (TTL %v)", took, time.Since(start).Round(time.Millisecond), ttl)
			for i, l := range leases {
				if i != killed && i != took && l.Renew(context.Background()) {
					t.Fatalf("hubs %d and %d both hold the lease", took, i)
				}
			}
		}},
		{"the bucket leader's node dies: the holder keeps the lease", func(t *testing.T, leases []*Lease, leader int) int {
			return leader
		}, func(t *testing.T, leases []*Lease, killed, holder int) {
			// renew as a service does (every TTL/4) for 3 TTLs; the
			// holder must hold it again after the new leader is elected
			// and nobody else may take it meanwhile
			var back time.Duration
			start := time.Now()
			for end := time.Now().Add(3 * ttl); time.Now().Before(end); time.Sleep(ttl / 4) {
				if leases[holder].Renew(context.Background()) && back == 0 {
					back = time.Since(start)
				}
				for i, l := range leases {
					if i != killed && i != holder && l.Renew(context.Background()) {
						t.Fatalf("hub %d took the lease hub %d holds while the bucket's leader was lost", i, holder)
					}
				}
			}
			if !leases[holder].Held() || back == 0 {
				t.Fatalf("hub %d does not hold the lease 3 TTLs after the bucket's leader died", holder)
			}
			t.Logf("hub %d renewed the lease %v after the bucket's leader died", holder, back.Round(time.Millisecond))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := natsCluster(t, 3)
			bucket := "lease_cluster"
			leases := make([]*Lease, len(nodes))
			for i, n := range nodes {
				l, err := Open(context.Background(), n.nc, Config{Bucket: bucket, Key: "k", Holder: fmt.Sprintf("hub%d", i),
					TTL: ttl, Description: "test", Replicas: 3})
				if err != nil {
					t.Fatal(err)
				}
				leases[i] = l
			}
			info := bucketInfo(t, nodes[0].nc, bucket)
			if info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 {
				t.Fatalf("bucket has %d replicas (%d peers besides the leader), want 3", info.Config.Replicas, len(info.Cluster.Replicas))
			}
			leader := nodeNamed(t, nodes, info.Cluster.Leader)
			killed := tc.kill(t, leases, leader)
			// the holder: hub on the node to kill in the first case, else
			// one on another node
			holder := killed
			if killed == leader {
				holder = (leader + 1) % len(nodes)
			}
			if !leases[holder].Renew(context.Background()) {
				t.Fatalf("hub %d did not take the free lease", holder)
			}
			for i, l := range leases {
				if i != holder && l.Renew(context.Background()) {
					t.Fatalf("hub %d took the lease hub %d holds", i, holder)
				}
			}
			nodes[killed].ns.Shutdown()
			nodes[killed].nc.Close()
			tc.check(t, leases, killed, holder)
		})
	}
}

// TestOpenScalesBucket: a bucket made with one replica (a hub before it
// joined a cluster) gets the configured replicas when the lease is opened
// again.
func TestOpenScalesBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node JetStream cluster; skipped with -short")
	}
	nodes := natsCluster(t, 3)
	cfg := Config{Bucket: "lease_scaled", Key: "k", Holder: "a", TTL: time.Second, Description: "test"}
	if _, err := Open(context.Background(), nodes[0].nc, cfg); err != nil {
		t.Fatal(err)
	}
	if got := bucketInfo(t, nodes[0].nc, cfg.Bucket).Config.Replicas; got != 1 {
		t.Fatalf("bucket has %d replicas, want 1 (Replicas unset)", got)
	}
	cfg.Replicas = 3
	if _, err := Open(context.Background(), nodes[1].nc, cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the bucket to have 3 replicas", func() bool {
		info := bucketInfo(t, nodes[2].nc, cfg.Bucket)
		return info.Config.Replicas == 3 && len(info.Cluster.Replicas) == 2
	})
}
