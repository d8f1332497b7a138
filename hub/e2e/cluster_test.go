package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// Hub replicas (docs/scaling.md): three hub processes on loopback form a
// NATS cluster (JetStream R3), share one MongoDB (the Mongo wire-protocol
// test server) and one VictoriaMetrics, and two agents send readings to
// them. One hub is killed with SIGKILL while the agents send; the survivors
// keep answering REST, the agents' leaf links fail over, and every reading
// reaches the store and the history exactly once.

// clusterPeriod is the agents' poll period, and clusterMeters the meters
// each agent polls: up to 300 readings a second each, 600 together (a loaded
// machine polls less often: the test reports the rate reached).
const (
	clusterPeriod = 0.01
	clusterMeters = 3
)

// victoriaMetrics starts VictoriaMetrics (Debian's victoria-metrics) on a
// free loopback port and returns its base URL; without it the test skips,
// and fails with GRIDEDGE_REQUIRE_INTEROP=1.
func victoriaMetrics(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("no victoria-metrics for the hub cluster test: %v", err)
		}
		t.Skipf("no victoria-metrics for the hub cluster test (apt-get install victoria-metrics, or scripts/install-test-deps.sh): %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-retentionPeriod=100y", "-loggerLevel=ERROR")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start victoria-metrics: %v", err)
	}
	go func() { // drain its log so that it never blocks
		for sc := bufio.NewScanner(stderr); sc.Scan(); {
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	eventually(t, 30*time.Second, 50*time.Millisecond, "victoria-metrics to be healthy", func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// meterSettings is a SETTINGS document with clusterMeters counting meters
// (slaves 1…n), stored as site/meters/<prefix>-<slave>.
func meterSettings(modbusPort int, prefix string) string {
	var slaves []string
	for i := 1; i <= clusterMeters; i++ {
		slaves = append(slaves, fmt.Sprintf(`{"ip": "127.0.0.1", "port": %d, "slaveId": %d, "map": "METER", "document": {"layer": "site", "collection": "meters", "id": "%s-%d"}}`,
			modbusPort, i, prefix, i))
	}
	return fmt.Sprintf(`{
  "modbusMaps": {"METER": [
    {"name": "counter", "type": "input", "address": 0, "datatype": "32uint"},
    {"name": "pollCount", "type": "input", "address": 10, "datatype": "32uint"}
  ]},
  "modbusSlaves": [%s],
  "period": %g,
  "logLevel": "Info"
}`, strings.Join(slaves, ", "), clusterPeriod)
}

// docs are the documents of an edge's meters.
func (e *clusterEdge) docs() []string {
	var out []string
	for i := 1; i <= clusterMeters; i++ {
		out = append(out, fmt.Sprintf("%s-%d", e.doc, i))
	}
	return out
}

// hubNode is one hub process of the cluster.
type hubNode struct {
	name                                    string
	httpPort, natsPort, leafPort, routePort int
	proc                                    *proc
}

func (n *hubNode) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", n.httpPort, path)
}

// startHubCluster starts count hub nodes forming the NATS cluster e2e, on
// the mongo store and the remote history (VictoriaMetrics at vm), with a
// layer site/meters and an ops NATS user, their config followed by extra
// (top-level YAML); it returns once every node's REST API answers.
func startHubCluster(t *testing.T, dir string, count int, mongoURI, db, vm, extra string) []*hubNode {
	t.Helper()
	nodes := make([]*hubNode, count)
	var routes []string
	for i := range nodes {
		nodes[i] = &hubNode{name: fmt.Sprintf("hub%d", i+1), httpPort: freePort(t), natsPort: freePort(t), leafPort: freePort(t), routePort: freePort(t)}
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", nodes[i].routePort))
	}
	for _, n := range nodes {
		cfg := writeFile(t, dir, n.name+".yaml", fmt.Sprintf(`
domain: e2e
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats:
  listen: "127.0.0.1:%d"
  leafListen: "127.0.0.1:%d"
  serverName: %s
  users: [{user: ops, password: e2e-ops-secret, publish: ["$JS.API.>"]}]
  cluster: {name: e2e, listen: "127.0.0.1:%d", routes: [%s]}
store: {backend: mongo, mongoURI: %q, database: %s}
history: {backend: remote, remote: {writeURL: "%s/api/v1/write", readURL: %q}}
layers:
  - _id: site
    collections: [{name: meters}]
`, filepath.Join(dir, n.name), n.httpPort, n.natsPort, n.leafPort, n.name, n.routePort, strings.Join(routes, ", "), mongoURI, db, vm, vm)+extra)
		n.proc = startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", cfg)
	}
	waitHubsUp(t, nodes, 150*time.Second)
	return nodes
}

// waitHubsUp waits up to limit for each node's REST API to answer its
// health check, failing at once when a node exits.
func waitHubsUp(t *testing.T, nodes []*hubNode, limit time.Duration) {
	t.Helper()
	for _, n := range nodes {
		eventually(t, limit, 100*time.Millisecond, n.name+"'s REST API", func() bool {
			if n.proc.exited() {
				t.Fatalf("%s exited", n.name)
			}
			var v map[string]any
			code, err := getJSON(n.url("/api/v2/health"), &v)
			return err == nil && code == 200
		})
	}
}

// clusterEdge is an agent with its simulated meter.
type clusterEdge struct {
	id, doc    string
	modbusPort int
	sim, agent *proc
}

func TestClusterHubNodeKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test runs three hubs, two agents, MongoDB and VictoriaMetrics; skipped with -short")
	}
	mongoURI, kind := mongotest.URI(t)
	vm := victoriaMetrics(t)
	dir := t.TempDir()
	db := mongotest.DatabaseName()
	t.Logf("store: %s (%s), database %s; history: VictoriaMetrics at %s", mongoURI, kind, db, vm)

	edges := []*clusterEdge{{id: "edge1", doc: "M1"}, {id: "edge2", doc: "M2"}}
	// the nodes start together: each waits for the others to form the
	// cluster and create the replicated streams
	nodes := startHubCluster(t, dir, 3, mongoURI, db, vm, `
ingest: {replicas: 3}
edges: [{id: edge1, password: e2e-secret-1}, {id: edge2, password: e2e-secret-2}]
`)

	// a token from a login on hub 1 works on the others
	s := &stack{httpPort: nodes[0].httpPort}
	s.login(t)
	for _, n := range nodes[1:] {
		var v map[string]any
		if code, err := getJSONAuth(n.url("/api/v2/system/edges"), s.auth, &v); err != nil || code != 200 {
			t.Fatalf("%s refused hub1's token: status %d, %v", n.name, code, err)
		}
	}

	// the node to lose: the one whose NATS server leads edge1's consumer,
	// which edge1 is also attached to, so that the ingest of edge1 and its
	// leaf link both fail over
	leader := consumerLeader(t, nodes[1].natsPort, "INGEST_edge1", "applier-edge1")
	for i, n := range nodes {
		if n.name == leader {
			nodes = append(nodes[i:], nodes[:i]...)
		}
	}
	if nodes[0].name != leader {
		t.Fatalf("edge1's consumer is led by %q, not a hub node", leader)
	}
	var leafURLs []string
	for _, n := range nodes {
		leafURLs = append(leafURLs, fmt.Sprintf("nats-leaf://127.0.0.1:%d", n.leafPort))
	}
	t.Logf("%s leads edge1's consumer: edge1 attaches to it, edge2 to %s", leader, nodes[1].name)

	for i, e := range edges {
		e.modbusPort = freePort(t)
		settings := writeFile(t, dir, e.id+"-settings.json", meterSettings(e.modbusPort, e.doc))
		e.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", e.modbusPort), "--log-level", "warn")
		// each agent starts on its own node, and knows them all
		others := append(append([]string{}, leafURLs[:i]...), leafURLs[i+1:]...)
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
`, e.id, leafURLs[i], strings.Join(quoted(others), ", "), i+1, filepath.Join(dir, e.id), filepath.Base(settings)))
		e.agent = start(t, "gridedge-agent", "--config", cfg)
	}
	agentsStarted := time.Now()
	// survivors: the two other nodes answer REST throughout
	survivor := &stack{httpPort: nodes[1].httpPort, auth: s.auth}
	for _, e := range edges {
		eventually(t, 60*time.Second, 100*time.Millisecond, e.doc+"'s readings in REST", func() bool {
			v, _ := survivor.measurement("meters", e.docs()[0], "pollCount")
			f, _ := v.(float64)
			return f > 50
		})
	}
	time.Sleep(3 * time.Second) // under load

	// kill -9 the node that edge1's leaf link is to and that leads its consumer
	killed := time.Now()
	nodes[0].proc.kill()
	t.Logf("killed %s (SIGKILL) at %s", nodes[0].name, killed.Format(time.RFC3339Nano))
	recovered := map[string]time.Duration{}
	for _, e := range edges {
		eventually(t, 120*time.Second, 20*time.Millisecond, e.doc+": a reading polled after the kill, served by the survivors", func() bool {
			ts, err := measurementTime(survivor, e.docs()[0], "pollCount")
			if err != nil || !ts.After(killed) {
				return false
			}
			recovered[e.id] = time.Since(killed)
			return true
		})
	}
	t.Logf("recovery (kill -9 to a new reading in REST on a survivor): edge1 (link to the lost node, which led its consumer) %v, edge2 %v",
		recovered["edge1"].Round(10*time.Millisecond), recovered["edge2"].Round(10*time.Millisecond))
	third := &stack{httpPort: nodes[2].httpPort, auth: s.auth}
	if v, err := third.measurement("meters", "M1-1", "pollCount"); err != nil || v == nil {
		t.Fatalf("%s does not serve M1-1 after the failover: %v, %v", nodes[2].name, v, err)
	}
	time.Sleep(3 * time.Second) // more readings after the failover

	// stop the devices: each agent's next poll writes a bad-quality update,
	// the last of its edge; when it is in the store, every earlier one is
	for _, e := range edges {
		e.sim.stop(t)
	}
	sending := time.Since(agentsStarted)
	for _, e := range edges {
		for _, doc := range e.docs() {
			eventually(t, 120*time.Second, 100*time.Millisecond, e.id+"'s backlog to reach the store", func() bool {
				q, err := survivor.quality("meters", doc, "pollCount")
				return err == nil && q == 0
			})
		}
	}
	from, to := killed.Add(-2*time.Hour), time.Now().Add(time.Minute)
	total := 0
	for _, e := range edges {
		for _, doc := range e.docs() {
			var vals []int
			// VictoriaMetrics shows samples a moment after the write;
			// what is still missing then is reported by checkExactlyOnce
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				vals = survivor.historyCounts(t, doc, from, to)
				if len(vals) > 0 && len(vals) >= lastCount(vals)-timeoutSlack {
					break
				}
			}
			t.Logf("%s %s:", e.id, doc)
			checkExactlyOnce(t, vals, timeoutSlack)
			total += len(vals)
		}
	}
	t.Logf("%d readings of 2 agents × %d meters in %v (%.0f readings/s together; poll period %gs), through a kill -9 of one of three hubs: none lost, none duplicated",
		total, clusterMeters, sending.Round(time.Second), float64(total)/sending.Seconds(), clusterPeriod)
}

// consumerLeader asks a hub node's NATS server which node leads a
// consumer (as the NATS user ops of the test's config).
func consumerLeader(t *testing.T, natsPort int, stream, consumer string) string {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.UserInfo("ops", "e2e-ops-secret"))
	if err != nil {
		t.Fatalf("connect to NATS as ops: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	eventually(t, 30*time.Second, 200*time.Millisecond, "a leader of "+consumer, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil || c.CachedInfo().Cluster == nil {
			return false
		}
		leader = c.CachedInfo().Cluster.Leader
		return leader != ""
	})
	return leader
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func lastCount(vals []int) int {
	if len(vals) == 0 {
		return 0
	}
	return vals[len(vals)-1]
}

// measurementTime returns measurements.<name>.timestamp of site/meters/<doc>.
func measurementTime(s *stack, doc, name string) (time.Time, error) {
	var resp struct {
		Data struct {
			Measurements map[string]struct {
				Timestamp time.Time `json:"timestamp"`
			} `json:"measurements"`
		} `json:"data"`
	}
	code, err := s.get("/api/v2/site/meters/"+doc, &resp)
	if err != nil || code != 200 {
		return time.Time{}, fmt.Errorf("GET site/meters/%s: status %d, %v", doc, code, err)
	}
	return resp.Data.Measurements[name].Timestamp, nil
}

// historyCounts returns a meter's good pollCount values from the REST history.
func (s *stack) historyCounts(t *testing.T, doc string, from, to time.Time) []int {
	t.Helper()
	var resp struct {
		Status string `json:"status"`
		Data   []struct {
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	code, err := s.get("/api/v2/history/site/meters/"+doc+"?"+historyParams(from, to, ""), &resp)
	if err != nil || code != 200 || resp.Status != "success" {
		t.Fatalf("GET history of %s: %d, %v, %+v", doc, code, err, resp.Status)
	}
	var out []int
	for _, se := range resp.Data {
		for _, p := range se.Points {
			if q, _ := p[2].(float64); q != 1 {
				continue
			}
			if v, ok := p[1].(float64); ok {
				out = append(out, int(v))
			}
		}
	}
	return out
}
