package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// externalNATSConf is docs/scaling.md's external NATS configuration for the
// e2e domain and edge1 (%d: client port, leaf port; %q: JetStream
// directory).
const externalNATSConf = `server_name: nats1
listen: 127.0.0.1:%d
jetstream { store_dir: %q }
leafnodes { listen: 127.0.0.1:%d }
authorization {
  users: [
    {user: gridedge-hub, password: "e2e-hub-secret", allowed_connection_types: ["STANDARD"]}
    {user: edge1, password: "e2e-secret-1", allowed_connection_types: ["LEAFNODE"],
     permissions: {publish: {allow: ["e2e.ingest.edge1", "e2e.edge.edge1.>", "_INBOX_edge1.>"]},
                   subscribe: {allow: ["e2e.edge.edge1.>", "_INBOX_edge1.>"]}}}
  ]
}
`

// TestExternalNATSAgentToStore: the hub binary on an external nats-server
// (run by the test from the documented configuration), the agent binary
// attached to that server as a leaf node. The hub is stopped for a while as
// the agent sends: the batches wait in the external JetStream (the agent's
// link never drops), and once the hub is back every reading is in its
// history once, in order.
func TestExternalNATSAgentToStore(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	clientPort, leafPort := freePort(t), freePort(t)
	conf := writeFile(t, dir, "nats.conf", fmt.Sprintf(externalNATSConf, clientPort, filepath.Join(dir, "nats-js"), leafPort))
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the documented external NATS config: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the external NATS did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })

	httpPort := freePort(t)
	hubCfg := writeFile(t, dir, "hub.yaml", fmt.Sprintf(`
domain: e2e
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats:
  external: {urls: ["nats://127.0.0.1:%d"], user: gridedge-hub, password: e2e-hub-secret}
edges: [{id: edge1}]
layers:
  - _id: site
    collections: [{name: meters}]
`, filepath.Join(dir, "hub"), httpPort, clientPort))
	startHub := func() *proc {
		p := startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", hubCfg)
		eventually(t, 60*time.Second, 100*time.Millisecond, "the hub's REST API", func() bool {
			if p.exited() {
				t.Fatalf("the hub exited:\n%s", p.log.String())
			}
			var v map[string]any
			code, err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v2/health", httpPort), &v)
			return err == nil && code == 200
		})
		return p
	}
	hub := startHub()
	s := &stack{httpPort: httpPort}
	s.login(t)

	e := &clusterEdge{id: "edge1", doc: "M1", modbusPort: freePort(t)}
	settings := writeFile(t, dir, "edge1-settings.json", meterSettings(e.modbusPort, e.doc))
	e.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", e.modbusPort), "--log-level", "warn")
	agentCfg := writeFile(t, dir, "edge1.yaml", fmt.Sprintf(`
edge: {id: edge1}
domain: e2e
hub: {url: "nats-leaf://127.0.0.1:%d", password: e2e-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: %s
forwarder: {ackTimeout: 2s}
heartbeat: {interval: 500ms}
`, leafPort, filepath.Join(dir, "edge1"), filepath.Base(settings)))
	e.agent = start(t, "gridedge-agent", "--config", agentCfg)
	started := time.Now()
	eventually(t, 60*time.Second, 100*time.Millisecond, "edge1's readings in REST", func() bool {
		v, _ := s.measurement("meters", e.docs()[0], "pollCount")
		f, _ := v.(float64)
		return f > 50
	})
	if n := srv.NumLeafNodes(); n != 1 {
		t.Fatalf("the external NATS has %d leaf nodes, want the agent's", n)
	}

	// the hub away for 5 s: the external JetStream keeps taking batches
	hub.stop(t)
	stopped := time.Now()
	time.Sleep(5 * time.Second)
	if n := srv.NumLeafNodes(); n != 1 {
		t.Fatalf("the agent's leaf link dropped while the hub was away (%d leaf nodes)", n)
	}
	startHub()
	eventually(t, 60*time.Second, 20*time.Millisecond, "a reading polled while the hub was away, in REST", func() bool {
		ts, err := measurementTime(s, e.docs()[0], "pollCount")
		return err == nil && ts.After(stopped.Add(4*time.Second))
	})
	t.Logf("the hub stopped for 5 s: a reading polled meanwhile served %v after the stop", time.Since(stopped).Round(10*time.Millisecond))
	time.Sleep(2 * time.Second)

	e.sim.stop(t)
	sending := time.Since(started)
	for _, doc := range e.docs() {
		eventually(t, 60*time.Second, 100*time.Millisecond, "edge1's backlog to reach the store", func() bool {
			q, err := s.quality("meters", doc, "pollCount")
			return err == nil && q == 0
		})
	}
	total := 0
	for _, doc := range e.docs() {
		vals := s.historyCounts(t, doc, started.Add(-time.Hour), time.Now().Add(time.Minute))
		t.Logf("%s:", doc)
		checkExactlyOnce(t, vals, timeoutSlack)
		total += len(vals)
	}
	t.Logf("%d readings of %d meters in %v through an external NATS, the hub stopped for 5 s: none lost, none duplicated", total, clusterMeters, sending.Round(time.Second))
}

// TestExternalNATSTwoHubsOneKilled: two hub processes on one external
// nats-server, sharing the Mongo wire-protocol server and VictoriaMetrics;
// both consume every edge's consumer (neither is a NATS server, so neither
// "leads" it), and the applier's order rule (a batch is applied only when
// every earlier one is acknowledged) keeps each edge's batches in order
// between them. One hub is killed with SIGKILL while the agent sends: every
// reading is in the history once, in order.
func TestExternalNATSTwoHubsOneKilled(t *testing.T) {
	skipShort(t)
	mongoURI, kind := mongotest.URI(t)
	vm := victoriaMetrics(t)
	dir := t.TempDir()
	db := mongotest.DatabaseName()
	t.Logf("store: %s (%s), database %s; history: VictoriaMetrics at %s", mongoURI, kind, db, vm)
	clientPort, leafPort := freePort(t), freePort(t)
	conf := writeFile(t, dir, "nats.conf", fmt.Sprintf(externalNATSConf, clientPort, filepath.Join(dir, "nats-js"), leafPort))
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the documented external NATS config: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the external NATS did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })

	hubs := make([]*hubNode, 2)
	for i := range hubs {
		n := &hubNode{name: fmt.Sprintf("hub%d", i+1), httpPort: freePort(t)}
		cfg := writeFile(t, dir, n.name+".yaml", fmt.Sprintf(`
domain: e2e
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats:
  external: {urls: ["nats://127.0.0.1:%d"], user: gridedge-hub, password: e2e-hub-secret}
store: {backend: mongo, mongoURI: %q, database: %s}
history: {backend: remote, remote: {writeURL: "%s/api/v1/write", readURL: %q}}
metrics: {scrapeToken: e2e-scrape-token-0123}
edges: [{id: edge1}]
layers:
  - _id: site
    collections: [{name: meters}]
`, filepath.Join(dir, n.name), n.httpPort, clientPort, mongoURI, db, vm, vm))
		n.proc = startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", cfg)
		hubs[i] = n
	}
	waitHubsUp(t, hubs, 90*time.Second)
	s := &stack{httpPort: hubs[1].httpPort}
	s.login(t)

	e := &clusterEdge{id: "edge1", doc: "M1", modbusPort: freePort(t)}
	settings := writeFile(t, dir, "edge1-settings.json", meterSettings(e.modbusPort, e.doc))
	e.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", e.modbusPort), "--log-level", "warn")
	agentCfg := writeFile(t, dir, "edge1.yaml", fmt.Sprintf(`
edge: {id: edge1}
domain: e2e
hub: {url: "nats-leaf://127.0.0.1:%d", password: e2e-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: %s
forwarder: {ackTimeout: 2s}
heartbeat: {interval: 500ms}
`, leafPort, filepath.Join(dir, "edge1"), filepath.Base(settings)))
	e.agent = start(t, "gridedge-agent", "--config", agentCfg)
	started := time.Now()
	eventually(t, 60*time.Second, 100*time.Millisecond, "edge1's readings in REST", func() bool {
		v, _ := s.measurement("meters", e.docs()[0], "pollCount")
		f, _ := v.(float64)
		return f > 50
	})
	time.Sleep(3 * time.Second) // both hubs consuming
	// both hubs apply edge1's batches, in turns
	var applied []float64
	for _, n := range hubs {
		applied = append(applied, ingestBatches(t, n, "edge1"))
	}
	if applied[0] == 0 || applied[1] == 0 {
		t.Fatalf("batches of edge1 applied by hub1 and hub2: %v; want both", applied)
	}
	t.Logf("batches of edge1 applied before the kill: hub1 %v, hub2 %v", applied[0], applied[1])

	killed := time.Now()
	hubs[0].proc.kill()
	eventually(t, 120*time.Second, 20*time.Millisecond, "a reading polled after the kill, served by the survivor", func() bool {
		ts, err := measurementTime(s, e.docs()[0], "pollCount")
		return err == nil && ts.After(killed)
	})
	t.Logf("recovery (kill -9 of hub1 to a new reading in REST on hub2): %v", time.Since(killed).Round(10*time.Millisecond))
	time.Sleep(3 * time.Second)

	e.sim.stop(t)
	sending := time.Since(started)
	for _, doc := range e.docs() {
		eventually(t, 120*time.Second, 100*time.Millisecond, "edge1's backlog to reach the store", func() bool {
			q, err := s.quality("meters", doc, "pollCount")
			return err == nil && q == 0
		})
	}
	total := 0
	from, to := started.Add(-time.Hour), time.Now().Add(time.Minute)
	for _, doc := range e.docs() {
		var vals []int
		// VictoriaMetrics shows samples a moment after the write
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			vals = s.historyCounts(t, doc, from, to)
			if len(vals) > 0 && len(vals) >= lastCount(vals)-timeoutSlack {
				break
			}
		}
		t.Logf("%s:", doc)
		checkExactlyOnce(t, vals, timeoutSlack)
		total += len(vals)
	}
	t.Logf("%d readings of %d meters in %v (%.0f readings/s) through two hubs on an external NATS, one killed: none lost, none duplicated",
		total, clusterMeters, sending.Round(time.Second), float64(total)/sending.Seconds())
}

// ingestBatches scrapes a hub's /metrics (with the test's scrape token) for
// gridedge_hub_ingest_batches_total of an edge.
func ingestBatches(t *testing.T, n *hubNode, edge string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url("/metrics"), nil)
	req.Header.Set("Authorization", "Bearer e2e-scrape-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", n.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %d %v", n.name, resp.StatusCode, err)
	}
	prefix := `gridedge_hub_ingest_batches_total{edge="` + edge + `"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", n.name, line, err)
			}
			return f
		}
	}
	return 0
}
