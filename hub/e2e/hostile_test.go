package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// A hostile edge: e1, with its valid credentials used directly (as from a
// compromised gateway), tries every trick at once while the honest edge
// edge1 polls a simulator; every reading of edge1 arrives exactly once, and
// e1's tricks are refused or quarantined, and counted.
func TestHostileEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	s := &stack{dir: t.TempDir(), httpPort: freePort(t), leafPort: freePort(t), modbusPort: freePort(t)}
	natsPort := freePort(t)
	const domain = "e2e"
	settings := writeFile(t, s.dir, "settings.json", stackSettings(s.modbusPort, 0.2))
	hubCfg := writeFile(t, s.dir, "hub.yaml", fmt.Sprintf(`
domain: %s
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats:
  listen: "127.0.0.1:%d"
  leafListen: "127.0.0.1:%d"
  users: [{user: watch, password: watch-secret, subscribe: [">"]}]
edges:
  - {id: edge1, password: e2e-secret-1, layers: [{layer: site, collections: [hvac, meters]}]}
  - {id: e1, password: hostile-secret, layers: [{layer: lab}]}
layers:
  - _id: site
    collections: [{name: hvac}, {name: meters}]
  - _id: lab
    collections: [{name: x}]
`, domain, filepath.Join(s.dir, "hub"), s.httpPort, natsPort, s.leafPort))
	agentCfg := writeFile(t, s.dir, "agent.yaml", fmt.Sprintf(`
edge: {id: edge1}
domain: %s
hub: {url: "nats-leaf://127.0.0.1:%d", password: e2e-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: settings.json
forwarder: {ackTimeout: 2s, maxBatch: 5}
heartbeat: {interval: 300ms}
logLevel: info
`, domain, s.leafPort, filepath.Join(s.dir, "edge1")))
	s.sim = start(t, "gridedge", "sim", "--settings", settings, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", s.modbusPort), "--log-level", "warn")
	s.hubEnv = []string{adminPasswordEnv}
	s.hub = startEnv(t, s.hubEnv, "gridedge-hub", "--config", hubCfg)
	eventually(t, 60*time.Second, 50*time.Millisecond, "the hub's REST API", func() bool {
		var v map[string]any
		code, err := getJSON(s.url("/api/v2/health"), &v)
		return err == nil && code == 200
	})
	s.login(t)

	// a watcher on the hub sees whatever forged message got through
	hubURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	watch, err := nats.Connect(hubURL, nats.UserInfo("watch", "watch-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	var forged atomic.Int64
	var forgedOn atomic.Value
	if _, err := watch.Subscribe(">", func(m *nats.Msg) {
		if strings.Contains(string(m.Data), "forged") {
			forged.Add(1)
			forgedOn.Store(m.Subject)
		}
	}); err != nil {
		t.Fatal(err)
	}
	watch.Flush()

	// e1's credentials on the client port: refused
	if nc, err := nats.Connect(hubURL, nats.UserInfo("e1", "hostile-secret")); err == nil {
		nc.Close()
		t.Error("e1's edge credentials opened a client connection on the hub's NATS port")
	}

	// e1's own leaf node, and a connection through it
	hostile := hostileLeaf(t, s.leafPort, "e1", "hostile-secret")
	nc, err := nats.Connect(hostile.ClientURL(), nats.CustomInboxPrefix(subject.EdgeInbox("e1")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	eventually(t, 10*time.Second, 50*time.Millisecond, "e1's leaf link", func() bool { return hostile.NumLeafNodes() == 1 })
	// poisoned message ids for edge1's next batches, on e1's own subject
	// (stored in e1's stream, dead-lettered as garbage)
	for a := 1; a <= 40; a++ {
		for b := a; b < a+5; b++ {
			m := nats.NewMsg(subject.Ingest(domain, "e1"))
			m.Data = []byte("poison")
			m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("edge1:%d-%d", a, b))
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	// a sequence jump, then a write to edge1's layer
	ts := time.Now().UTC()
	jump := model.Batch{Edge: "e1", SeqFirst: 1_000_000_000_000, SeqLast: 1_000_000_000_000,
		Updates: []model.Update{model.MeasurementUpdate("lab", "x", "X1", ts, map[string]model.Measurement{"v": {Value: 1.0, Quality: 1, Timestamp: ts}})}}
	elsewhere := model.Batch{Edge: "e1", SeqFirst: 1, SeqLast: 1,
		Updates: []model.Update{model.MeasurementUpdate("site", "meters", "M1", ts, map[string]model.Measurement{"counter": {Value: -1.0, Quality: 1, Timestamp: ts}})}}
	for _, b := range []model.Batch{jump, elsewhere} {
		data, _ := json.Marshal(b)
		if _, err := nc.Request(subject.Ingest(domain, "e1"), data, 5*time.Second); err != nil {
			t.Fatalf("publish e1's batch %s: %v", b.MsgID(), err)
		}
	}
	// edge1's subjects, another inbox, edge1's inbox
	for _, subj := range []string{subject.Ingest(domain, "edge1"), subject.Heartbeat(domain, "edge1"),
		subject.EdgeControl(domain, "edge1", subject.ActionHWM), "_INBOX.victim", subject.EdgeInbox("edge1") + ".x"} {
		nc.Publish(subj, []byte(`{"edge":"edge1","forged":true}`))
	}
	nc.Publish(subject.Heartbeat(domain, "e1"), []byte(`{"edge":"e1"}`))
	nc.Flush()

	// the honest edge runs through all of it
	s.agent = start(t, "gridedge-agent", "--config", agentCfg)
	eventually(t, 30*time.Second, 100*time.Millisecond, "edge1's readings", func() bool {
		r, err := edgeRecordOf(s, "edge1")
		return err == nil && r.Hub.LastSeq > 100
	})
	nc.Publish(subject.Heartbeat(domain, "e1"), []byte(`{"edge":"e1"}`))
	nc.Flush()
	s.sim.stop(t) // no new readings: the agent's buffer drains
	var r edgeRecordHostile
	eventually(t, 30*time.Second, 200*time.Millisecond, "edge1's buffer drained and applied", func() bool {
		r, err = edgeRecordOf(s, "edge1")
		return err == nil && r.Heartbeat.Buffer.Depth == 0 && r.Heartbeat.Buffer.NextSeq > 0 && r.Hub.LastSeq == r.Heartbeat.Buffer.NextSeq-1
	})
	if r.Hub.Skipped != 0 || r.Hub.Missing != r.Heartbeat.Buffer.Dropped || r.Hub.DeadLetters != 0 || r.Hub.Applied != r.Hub.LastSeq {
		t.Errorf("edge1 at the hub: %+v, buffer %+v: want every reading applied once (applied == last seq), none skipped, missing == dropped, no dead letters", r.Hub, r.Heartbeat.Buffer)
	}
	if n := forged.Load(); n != 0 {
		t.Errorf("%d forged messages reached the hub (last on %v)", n, forgedOn.Load())
	}
	h, err := edgeRecordOf(s, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if h.Hub.Quarantined != 1 || h.Hub.Refused != 1 || h.Hub.Applied != 0 || h.Hub.DeadLetters < 2 {
		t.Errorf("e1 at the hub: %+v: want the jump quarantined, the foreign write refused, nothing applied", h.Hub)
	}
}

// edgeRecordHostile is the part of system/edges/<id> this test reads.
type edgeRecordHostile struct {
	Heartbeat struct {
		Buffer struct {
			Depth   uint64 `json:"depth"`
			NextSeq uint64 `json:"next_seq"`
			Dropped uint64 `json:"dropped"`
		} `json:"buffer"`
	} `json:"heartbeat"`
	Hub struct {
		Applied     uint64 `json:"applied"`
		Skipped     uint64 `json:"skipped"`
		Missing     uint64 `json:"missing"`
		DeadLetters uint64 `json:"dead_letters"`
		Quarantined uint64 `json:"quarantined"`
		Refused     uint64 `json:"refused"`
		LastSeq     uint64 `json:"last_seq"`
	} `json:"hub"`
}

func edgeRecordOf(s *stack, edge string) (edgeRecordHostile, error) {
	var resp struct {
		Data edgeRecordHostile `json:"data"`
	}
	code, err := s.get("/api/v2/system/edges/"+edge, &resp)
	if err != nil || code != 200 {
		return edgeRecordHostile{}, fmt.Errorf("get system/edges/%s: status %d, %v", edge, code, err)
	}
	return resp.Data, nil
}

// hostileLeaf is a bare nats-server leaf node logged in with an edge's
// credentials: what a compromised gateway can run.
func hostileLeaf(t *testing.T, leafPort int, user, pass string) *server.Server {
	t.Helper()
	u, _ := url.Parse(fmt.Sprintf("nats-leaf://127.0.0.1:%d", leafPort))
	u.User = url.UserPassword(user, pass)
	srv, err := server.NewServer(&server.Options{ServerName: "hostile-" + user, Port: -1, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("hostile leaf not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}
