package e2e

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// A supercluster (docs/scaling.md): cluster east (hub processes east1 and
// east2) and cluster west (west1) are joined by NATS gateways, every
// gateway connection through a TCP proxy. edge1 attaches to east, edge2 to
// west; each edge's stream is placed in its own cluster. The gateway link
// is cut for superclusterCut while both agents send, then restored: every
// reading reaches the shared store and history exactly once.

// superclusterCut is how long the gateway link stays cut.
const superclusterCut = 10 * time.Second

// superNode is one hub process of the supercluster.
type superNode struct {
	hubNode
	cluster string
	gwPort  int
	gw      *proxy // in front of gwPort; the node advertises it
}

func TestSuperclusterGatewayCut(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test runs three hubs, two agents, MongoDB and VictoriaMetrics; skipped with -short")
	}
	mongoURI, kind := mongotest.URI(t)
	vm := victoriaMetrics(t)
	dir := t.TempDir()
	db := mongotest.DatabaseName()
	t.Logf("store: %s (%s), database %s; history: VictoriaMetrics at %s", mongoURI, kind, db, vm)

	nodes := []*superNode{{cluster: "east"}, {cluster: "east"}, {cluster: "west"}}
	seq := map[string]int{}
	for _, n := range nodes {
		seq[n.cluster]++
		n.name = fmt.Sprintf("%s%d", n.cluster, seq[n.cluster])
		n.httpPort, n.natsPort, n.leafPort, n.routePort, n.gwPort = freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
		n.gw = newProxy(t, fmt.Sprintf("127.0.0.1:%d", n.gwPort))
	}
	urls := func(keep func(*superNode) bool, url func(*superNode) string) string {
		var out []string
		for _, n := range nodes {
			if keep(n) {
				out = append(out, url(n))
			}
		}
		return strings.Join(out, ", ")
	}
	for _, n := range nodes {
		other := map[string]string{"east": "west", "west": "east"}[n.cluster]
		routes := urls(func(o *superNode) bool { return o.cluster == n.cluster }, func(o *superNode) string { return fmt.Sprintf("nats://127.0.0.1:%d", o.routePort) })
		gateways := urls(func(o *superNode) bool { return o.cluster == other }, func(o *superNode) string { return fmt.Sprintf("nats://127.0.0.1:%d", o.gw.port()) })
		cfg := writeFile(t, dir, n.name+".yaml", fmt.Sprintf(`
domain: e2e
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats:
  listen: "127.0.0.1:%d"
  leafListen: "127.0.0.1:%d"
  serverName: %s
  users: [{user: ops, password: e2e-ops-secret, publish: ["$JS.API.>"]}]
  cluster: {name: %s, listen: "127.0.0.1:%d", routes: [%s]}
  gateway: {listen: "127.0.0.1:%d", advertise: "127.0.0.1:%d", gateways: [{name: %s, urls: [%s]}]}
store: {backend: mongo, mongoURI: %q, database: %s}
history: {backend: remote, remote: {writeURL: "%s/api/v1/write", readURL: %q}}
ingest: {replicas: 1}
edges:
  - {id: edge1, password: e2e-secret-1, cluster: east}
  - {id: edge2, password: e2e-secret-2, cluster: west}
layers:
  - _id: site
    collections: [{name: meters}]
`, filepath.Join(dir, n.name), n.httpPort, n.natsPort, n.leafPort, n.name, n.cluster, n.routePort, routes,
			n.gwPort, n.gw.port(), other, gateways, mongoURI, db, vm, vm))
		n.proc = startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", cfg)
	}
	for _, n := range nodes {
		waitHubsUp(t, []*hubNode{&n.hubNode}, 150*time.Second)
	}
	east, west := nodes[0], nodes[2]
	// each edge's stream lives in its own cluster, asked across the gateway
	for _, c := range []struct {
		ask    *superNode
		stream string
		want   string
	}{{east, "INGEST_edge2", "west"}, {west, "INGEST_edge1", "east"}} {
		if got := streamCluster(t, c.ask.natsPort, c.stream, 30*time.Second); got != c.want {
			t.Fatalf("%s is placed in cluster %q, want %q", c.stream, got, c.want)
		}
	}

	s := &stack{httpPort: east.httpPort}
	s.login(t)
	edges := []*clusterEdge{{id: "edge1", doc: "M1"}, {id: "edge2", doc: "M2"}}
	attach := map[string][]*superNode{"edge1": {nodes[0], nodes[1]}, "edge2": {west}}
	for i, e := range edges {
		e.modbusPort = freePort(t)
		settings := writeFile(t, dir, e.id+"-settings.json", meterSettings(e.modbusPort, e.doc))
		e.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", e.modbusPort), "--log-level", "warn")
		var leafs []string
		for _, n := range attach[e.id] {
			leafs = append(leafs, fmt.Sprintf("nats-leaf://127.0.0.1:%d", n.leafPort))
		}
		cfg := writeFile(t, dir, e.id+".yaml", fmt.Sprintf(`
edge: {id: %s}
domain: e2e
hub: {url: %q, urls: [%s], password: e2e-secret-%d}
dataDir: %s
nats: {listen: "off"}
settingsFile: %s
forwarder: {ackTimeout: 2s}
heartbeat: {interval: 500ms}
logLevel: info
`, e.id, leafs[0], strings.Join(quoted(leafs[1:]), ", "), i+1, filepath.Join(dir, e.id), filepath.Base(settings)))
		e.agent = start(t, "gridedge-agent", "--config", cfg)
	}
	agentsStarted := time.Now()
	// each region's hub serves the other region's edge (one shared store)
	viewers := map[string]*stack{"edge1": {httpPort: west.httpPort, auth: s.auth}, "edge2": {httpPort: east.httpPort, auth: s.auth}}
	for _, e := range edges {
		eventually(t, 60*time.Second, 100*time.Millisecond, e.doc+"'s readings in REST of the other region", func() bool {
			v, _ := viewers[e.id].measurement("meters", e.docs()[0], "pollCount")
			f, _ := v.(float64)
			return f > 50
		})
	}
	time.Sleep(3 * time.Second) // under load

	cut := time.Now()
	for _, n := range nodes {
		n.gw.set("cut", 0)
	}
	t.Logf("gateway link cut at %s", cut.Format(time.RFC3339Nano))
	// the link is down: west's server no longer reaches the stream in east
	if err := streamInfo(west.natsPort, "INGEST_edge1", 2*time.Second); err == nil {
		t.Fatal("west still reaches INGEST_edge1 (in east) with the gateway cut")
	}
	// each region keeps ingesting on its own: the newest reading of each
	// edge, seen from the other region's hub, stays fresh
	stale := map[string]time.Duration{}
	for time.Since(cut) < superclusterCut {
		for _, e := range edges {
			ts, err := measurementTime(viewers[e.id], e.docs()[0], "pollCount")
			if err != nil {
				t.Fatalf("%s with the gateway cut: %v", e.id, err)
			}
			if age := time.Since(ts); age > stale[e.id] {
				stale[e.id] = age
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, e := range edges {
		if stale[e.id] > superclusterCut/2 {
			t.Errorf("%s's newest reading was %v old at worst with the gateway cut: its region stopped ingesting", e.id, stale[e.id].Round(time.Millisecond))
		}
	}
	t.Logf("with the gateway cut for %v, the newest reading in REST of the other region's hub was at worst %v old (edge1, east) and %v old (edge2, west)",
		superclusterCut, stale["edge1"].Round(time.Millisecond), stale["edge2"].Round(time.Millisecond))

	restored := time.Now()
	for _, n := range nodes {
		n.gw.set("pass", 0)
	}
	eventually(t, 60*time.Second, 20*time.Millisecond, "west to reach INGEST_edge1 in east again", func() bool {
		return streamInfo(west.natsPort, "INGEST_edge1", time.Second) == nil
	})
	back := time.Since(restored)
	eventually(t, 60*time.Second, 20*time.Millisecond, "east to reach INGEST_edge2 in west again", func() bool {
		return streamInfo(east.natsPort, "INGEST_edge2", time.Second) == nil
	})
	t.Logf("gateway link restored: west's JetStream requests reach east after %v, east's reach west after %v",
		back.Round(time.Millisecond), time.Since(restored).Round(time.Millisecond))
	time.Sleep(3 * time.Second) // more readings after the restore
	// heartbeats do not cross the cut gateway either: only the hubs of an
	// edge's own cluster may mark it offline, so the fleet's history of
	// each (still connected) edge has no "online" 0 around the cut
	for _, e := range edges {
		if zeros := onlineZeros(t, viewers[e.id], e.id, cut.Add(-time.Minute), time.Now()); zeros > 0 {
			t.Errorf("%s, connected throughout, was marked offline %d times around the gateway cut", e.id, zeros)
		}
	}

	for _, e := range edges {
		e.sim.stop(t)
	}
	sending := time.Since(agentsStarted)
	for _, e := range edges {
		for _, doc := range e.docs() {
			eventually(t, 120*time.Second, 100*time.Millisecond, e.id+"'s backlog to reach the store", func() bool {
				q, err := viewers[e.id].quality("meters", doc, "pollCount")
				return err == nil && q == 0
			})
		}
	}
	from, to := cut.Add(-2*time.Hour), time.Now().Add(time.Minute)
	total := 0
	for _, e := range edges {
		for _, doc := range e.docs() {
			var vals []int
			// VictoriaMetrics shows samples a moment after the write
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				vals = viewers[e.id].historyCounts(t, doc, from, to)
				if len(vals) > 0 && len(vals) >= lastCount(vals)-timeoutSlack {
					break
				}
			}
			t.Logf("%s %s:", e.id, doc)
			checkExactlyOnce(t, vals, timeoutSlack)
			total += len(vals)
		}
	}
	t.Logf("%d readings of 2 agents × %d meters in %v (%.0f readings/s together; poll period %gs), through a %v cut of the gateway link: none lost, none duplicated",
		total, clusterMeters, sending.Round(time.Second), float64(total)/sending.Seconds(), clusterPeriod, superclusterCut)
}

// streamInfo asks a hub node's NATS server (as the NATS user ops of the
// test's config) for a stream's info within d.
func streamInfo(natsPort int, stream string, d time.Duration) error {
	_, err := streamInfoOf(natsPort, stream, d)
	return err
}

func streamInfoOf(natsPort int, stream string, d time.Duration) (*jetstream.StreamInfo, error) {
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.UserInfo("ops", "e2e-ops-secret"), nats.Timeout(d))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS as ops: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	return st.CachedInfo(), nil
}

// streamCluster returns the cluster a stream is placed in, asked through
// a hub node's NATS server.
func streamCluster(t *testing.T, natsPort int, stream string, d time.Duration) string {
	t.Helper()
	var cluster string
	eventually(t, d, 200*time.Millisecond, "the placement of "+stream, func() bool {
		info, err := streamInfoOf(natsPort, stream, 2*time.Second)
		if err != nil || info.Cluster == nil {
			return false
		}
		cluster = info.Cluster.Name
		return cluster != ""
	})
	return cluster
}

// onlineZeros counts the samples of system/edges/<edge>
// measurements.online that are 0 (the fleet marked the edge offline)
// between from and to.
func onlineZeros(t *testing.T, s *stack, edge string, from, to time.Time) int {
	t.Helper()
	var resp struct {
		Status string `json:"status"`
		Data   []struct {
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	q := url.Values{"fields": {"measurements.online"}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	code, err := s.get("/api/v2/history/system/edges/"+edge+"?"+q.Encode(), &resp)
	if err != nil || code != 200 || resp.Status != "success" {
		t.Fatalf("GET the fleet history of %s: %d, %v, %+v", edge, code, err, resp.Status)
	}
	zeros, points := 0, 0
	for _, se := range resp.Data {
		for _, p := range se.Points {
			points++
			if v, ok := p[1].(float64); ok && v == 0 {
				zeros++
			}
		}
	}
	if points == 0 {
		t.Fatalf("no fleet history of %s (measurements.online)", edge)
	}
	return zeros
}
