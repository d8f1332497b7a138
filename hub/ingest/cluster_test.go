package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster starts n nats-servers in-process forming a JetStream cluster.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	var routes []*url.URL
	for i := range ports {
		ports[i] = freeLoopbackPort(t)
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])})
	}
	srvs := make([]*server.Server, n)
	for i := range srvs {
		o := &server.Options{ServerName: fmt.Sprintf("hub%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Routes: routes}
		o.Cluster.Name, o.Cluster.Host, o.Cluster.Port = "test", "127.0.0.1", ports[i]
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		srvs[i] = s
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range srvs {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats not ready")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range srvs {
		for !s.JetStreamIsCurrent() || s.JetStreamIsClustered() && !hasMetaLeader(srvs) {
			if time.Now().After(deadline) {
				t.Fatal("the JetStream cluster did not form in 30s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return srvs
}

func hasMetaLeader(srvs []*server.Server) bool {
	for _, s := range srvs {
		if s.Running() && s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// replica is one hub's applier on its own server of the cluster.
type replica struct {
	srv    *server.Server
	a      *Applier
	cancel context.CancelFunc
	done   chan struct{}
}

// Three hub replicas share one store and the replicated streams of two
// edges; the node leading an edge's consumer is shut down while the edges
// publish. Every update is applied once: the store's high-water marks
// reach the last sequence numbers, and the appliers together applied each
// update exactly once (none skipped as a replay before it was applied).
func TestClusterReplicasApplyEachBatchOnceAcrossAFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node JetStream cluster; skipped with -short")
	}
	srvs := startCluster(t, 3)
	st := openBolt(t, storeLayer("site", "meters"))
	ctx := context.Background()
	edges := []string{"e1", "e2"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var reps []*replica
	for _, s := range srvs {
		nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		o := Options{Domain: "d", Edges: edges, Replicas: 3, Logger: log,
			Leads: func(stream, consumer string) bool {
				return s.JetStreamIsConsumerLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream, consumer)
			}}
		var a *Applier
		for deadline := time.Now().Add(30 * time.Second); ; {
			if a, err = New(ctx, nc, st, o); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &replica{srv: s, a: a, cancel: cancel, done: make(chan struct{})}
		go func() { defer close(r.done); _ = a.Run(rctx) }()
		t.Cleanup(func() { r.cancel(); <-r.done })
		reps = append(reps, r)
	}
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	pub, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	js, err := jetstream.New(pub)
	if err != nil {
		t.Fatal(err)
	}
	const batches, per = 120, 10
	publish := func(edge string, i int) {
		first := uint64(i*per + 1)
		msg := nats.NewMsg(subject.Ingest("d", edge))
		msg.Data = batchWire(t, edge, first, per, "meters")
		msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s:%d-%d", edge, first, first+per-1))
		for attempt := 0; ; attempt++ {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.PublishMsg(pctx, msg)
			cancel()
			if err == nil {
				return
			}
			if attempt > 100 {
				t.Errorf("publish %s batch %d: %v", edge, i, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	killed := make(chan int, 1)
	for _, e := range edges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				publish(e, i)
				if e == "e1" && i == batches/3 {
					// lose the node that applies e1's batches, mid-stream
					for k, r := range reps {
						if r.srv.JetStreamIsConsumerLeader(server.DEFAULT_GLOBAL_ACCOUNT, EdgeStream(e), consumerName(e)) {
							r.cancel()
							r.srv.Shutdown()
							killed <- k
							break
						}
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	select {
	case k := <-killed:
		t.Logf("shut down %s, which led e1's consumer, after %d of %d batches", srvs[k].Name(), batches/3+1, batches)
	default:
		t.Fatal("no node led e1's consumer")
	}
	const last = batches * per
	start := time.Now()
	for _, e := range edges {
		// a failover takes a Raft election and the lost node's AckWait
		// (5 s); a loaded machine slows both, so the wait is generous and
		// says where the edge stands when it gives up
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			n, err := st.HighWaterMark(ctx, e)
			if err == nil && n == last {
				break
			}
			if time.Now().After(deadline) {
				var state []string
				for _, r := range reps {
					if r.srv.Running() {
						state = append(state, fmt.Sprintf("%s leads: %v, applied %+v", r.srv.Name(),
							r.srv.JetStreamIsConsumerLeader(server.DEFAULT_GLOBAL_ACCOUNT, EdgeStream(e), consumerName(e)), r.a.EdgeStats(e)))
					}
				}
				t.Fatalf("%s's high-water mark is %d (%v), want %d; %s", e, n, err, last, strings.Join(state, "; "))
			}
		}
	}
	t.Logf("applied %d updates of 2 edges; the last %v after publishing ended", 2*last, time.Since(start).Round(time.Millisecond))
	var applied uint64
	appliedBy := map[string]uint64{}
	for _, r := range reps {
		for _, e := range edges {
			s := r.a.EdgeStats(e)
			applied += s.Applied
			if s.Applied > 0 {
				appliedBy[e] += 1
			}
			if s.Missing > 0 {
				t.Errorf("%s saw %d missing sequence numbers of %s", r.srv.Name(), s.Missing, e)
			}
		}
	}
	if applied != 2*last {
		t.Fatalf("the replicas applied %d updates, want %d (each once: fewer is a batch skipped before it was applied)", applied, 2*last)
	}
	t.Logf("replicas that applied batches: %v", appliedBy)
	var doc store.Document
	if doc, err = st.Get(ctx, "site", "meters", "M1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("document M1: %v", doc["measurements"])
}
