package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/nats-io/nuid"

	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// An operator pushes a changed map to a running edge through the hub's
// NATS: the agent (a real process behind its leaf link) applies it, the new
// variable reaches the hub, the fleet shows the map's version and pusher,
// and a rollback brings the old map back.
func TestFleetControlThroughTheHub(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	op, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	opKey, _ := op.PublicKey()
	s := &stack{dir: t.TempDir(), httpPort: freePort(t), leafPort: freePort(t), modbusPort: freePort(t)}
	natsPort := freePort(t)
	settings := stackSettings(s.modbusPort, 0.2)
	settingsFile := writeFile(t, s.dir, "settings.json", settings)
	hubCfg := writeFile(t, s.dir, "hub.yaml", fmt.Sprintf(`
domain: e2e
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats:
  listen: "127.0.0.1:%d"
  leafListen: "127.0.0.1:%d"
  users: [{user: ops, password: ops-secret-pw, publish: ["e2e.edge.*.map.>", "e2e.edge.*.status", "e2e.fleet.>"]}]
edges: [{id: edge1, password: e2e-secret-1}]
layers:
  - _id: site
    collections: [{name: hvac}, {name: meters}]
`, filepath.Join(s.dir, "hub"), s.httpPort, natsPort, s.leafPort))
	agentCfg := writeFile(t, s.dir, "agent.yaml", fmt.Sprintf(`
edge: {id: edge1}
domain: e2e
hub: {url: "nats-leaf://127.0.0.1:%d", password: e2e-secret-1}
dataDir: %s
nats: {listen: "off"}
settingsFile: settings.json
heartbeat: {interval: 300ms}
control: {trustedKeys: [%s]}
logLevel: info
`, s.leafPort, filepath.Join(s.dir, "edge1"), opKey))
	s.sim = start(t, "gridedge", "sim", "--settings", settingsFile, "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", s.modbusPort), "--log-level", "warn")
	s.hubEnv = []string{adminPasswordEnv}
	s.hub = startEnv(t, s.hubEnv, "gridedge-hub", "--config", hubCfg)
	eventually(t, 60*time.Second, 50*time.Millisecond, "the hub's REST API", func() bool {
		var v map[string]any
		code, err := getJSON(s.url("/api/v2/health"), &v)
		return err == nil && code == 200
	})
	s.login(t)
	s.agent = start(t, "gridedge-agent", "--config", agentCfg)

	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.UserInfo("ops", "ops-secret-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// requests to an edge carry a reply subject under its inbox prefix
	ask := func(action string, req, reply any) error {
		data, err := json.Marshal(req)
		if err != nil {
			return err
		}
		inbox := subject.EdgeInbox("edge1") + "." + nuid.Next()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		if err := nc.PublishRequest(subject.EdgeControl("e2e", "edge1", action), inbox, data); err != nil {
			return err
		}
		m, err := sub.NextMsg(20 * time.Second)
		if err != nil {
			return err
		}
		return json.Unmarshal(m.Data, reply)
	}
	fleet := func() control.EdgeSummary {
		m, err := nc.Request(subject.FleetStatus("e2e", "edge1"), nil, 5*time.Second)
		if err != nil {
			return control.EdgeSummary{}
		}
		var r control.FleetStatusReply
		_ = json.Unmarshal(m.Data, &r)
		return r.Edge
	}
	var before control.EdgeSummary
	eventually(t, 30*time.Second, 50*time.Millisecond, "the edge online in the fleet", func() bool {
		before = fleet()
		return before.State == control.StateOnline && before.SlavesUp == 2
	})

	doc := strings.Replace(settings, `{"name": "pollCount", "type": "holding", "address": 20, "datatype": "32uint"}`,
		`{"name": "pollCount", "type": "holding", "address": 20, "datatype": "32uint"},
      {"name": "temperatureCopy", "type": "holding", "address": 1, "datatype": "16uint"}`, 1)
	push := &control.PushRequest{Edge: "edge1", Settings: json.RawMessage(doc), Pusher: "alice", IssuedAt: time.Now(), Confirm: true}
	if err := control.Sign(op, push); err != nil {
		t.Fatal(err)
	}
	var rep control.PushReply
	if err := ask(subject.ActionMapPush, push, &rep); err != nil {
		t.Fatalf("map.push through the hub: %v", err)
	}
	want, _ := control.MapVersion([]byte(doc))
	if rep.Error != nil || rep.Result != control.ResultConfirmed || rep.Version != want || rep.Changes == nil || rep.Changes.Kept != 1 {
		t.Fatalf("push: %+v (error %v, changes %+v)", rep, rep.Error, rep.Changes)
	}
	eventually(t, 30*time.Second, 100*time.Millisecond, "the new variable at the hub", func() bool {
		v, err := s.measurement("hvac", "SENSOR_ABC", "temperatureCopy")
		return err == nil && v != nil
	})
	eventually(t, 10*time.Second, 50*time.Millisecond, "the map's version and pusher in the fleet", func() bool {
		e := fleet()
		return e.MapVersion == want && e.MapPusher == "alice"
	})
	var rec struct {
		Data map[string]any `json:"data"`
	}
	if code, err := s.get("/api/v2/system/edges/edge1", &rec); err != nil || code != 200 || rec.Data["mapVersion"] != want {
		t.Fatalf("system/edges/edge1: %d %v %v", code, err, rec.Data["mapVersion"])
	}

	rb := &control.RollbackRequest{Edge: "edge1", Pusher: "alice", IssuedAt: time.Now()}
	if err := control.Sign(op, rb); err != nil {
		t.Fatal(err)
	}
	var rbRep control.RollbackReply
	if err := ask(subject.ActionMapRollback, rb, &rbRep); err != nil || rbRep.Error != nil || rbRep.Version != before.MapVersion {
		t.Fatalf("rollback through the hub: %+v %v, want %s", rbRep, err, before.MapVersion)
	}
	// a push the agent refuses comes back with the reason
	bad := &control.PushRequest{Edge: "edge1", Settings: json.RawMessage(doc), Pusher: "mallory", IssuedAt: time.Now()}
	var refused control.PushReply
	if err := ask(subject.ActionMapPush, bad, &refused); err != nil || refused.Error == nil || refused.Error.Code != control.CodeUnsigned {
		t.Fatalf("unsigned push through the hub: %+v %v", refused, err)
	}
}
