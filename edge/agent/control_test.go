package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// controlMap is a SETTINGS document with two slaves (units 1 and 2) of
// the simulator at port %[1]d; %[2]s is extra variables of map B.
const controlMap = `{
  "modbusMaps": {
    "A": [{"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint"}],
    "B": [{"name": "power", "type": "holding", "address": 1, "datatype": "16uint"},
          {"name": "setpoint", "type": "holding", "address": 5, "datatype": "16uint", "writable": true, "min": 0, "max": 100}%[2]s]
  },
  "modbusSlaves": [
    {"ip": "127.0.0.1", "port": %[1]d, "slaveId": 1, "map": "A"},
    {"ip": "127.0.0.1", "port": %[1]d, "slaveId": 2, "map": "B"}
  ],
  "period": 0.05
}`

// controlRig is a running agent with a simulator, reachable through its
// local NATS bus with the local user's credentials.
type controlRig struct {
	t    *testing.T
	mem  *modbus.Memory
	port int
	dir  string
	cfg  string
	a    *Agent
	nc   *nats.Conn
	op   nkeys.KeyPair
}

func newControlRig(t *testing.T) *controlRig {
	t.Helper()
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 21)
	mem.SetRegisters(2, modbus.HoldingRegisters, 1, 500, 7, 0, 0, 40)
	// unit 2 has registers 0..9 only: anything above is refused
	mem.Restrict(2, modbus.HoldingRegisters, modbus.Range{Start: 0, Count: 10})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = (&modbus.Server{Handler: mem, Logger: quiet}).Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	op, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := op.PublicKey()
	r := &controlRig{t: t, mem: mem, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir(), op: op}
	write(t, r.dir, "settings.json", r.doc(""))
	natsPort := freePort(t)
	r.cfg = write(t, r.dir, "agent.yaml", fmt.Sprintf(`edge: {id: e1, labels: {site: north}}
domain: t
dataDir: %s
nats: {listen: '127.0.0.1:%d', user: ops, password: local-secret-pw}
settingsFile: settings.json
heartbeat: {interval: 100ms}
control: {trustedKeys: [%s], confirmTimeout: 10s}
`, filepath.Join(r.dir, "data"), natsPort, pub))
	r.start()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort), nats.UserInfo("ops", "local-secret-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r.nc = nc
	return r
}

func (r *controlRig) doc(extraB string) string { return fmt.Sprintf(controlMap, r.port, extraB) }

func (r *controlRig) start() {
	r.t.Helper()
	cfg, err := Load(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	if r.a, err = Start(context.Background(), cfg, quiet); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(r.a.Close)
}

// request sends a control request and decodes the reply.
func (r *controlRig) request(action string, req, reply any) {
	r.t.Helper()
	var data []byte
	if req != nil {
		var err error
		if data, err = json.Marshal(req); err != nil {
			r.t.Fatal(err)
		}
	}
	m, err := r.nc.Request(subject.EdgeControl("t", "e1", action), data, 15*time.Second)
	if err != nil {
		r.t.Fatalf("%s: %v", action, err)
	}
	if err := json.Unmarshal(m.Data, reply); err != nil {
		r.t.Fatalf("%s reply %s: %v", action, m.Data, err)
	}
}

func (r *controlRig) push(doc string, mod func(*control.PushRequest)) control.PushReply {
	r.t.Helper()
	req := &control.PushRequest{Edge: "e1", Settings: json.RawMessage(doc), Pusher: "alice", IssuedAt: time.Now()}
	if mod != nil {
		mod(req)
	}
	if err := control.Sign(r.op, req); err != nil {
		r.t.Fatal(err)
	}
	var rep control.PushReply
	r.request(subject.ActionMapPush, req, &rep)
	return rep
}

func (r *controlRig) status() Status {
	r.t.Helper()
	var st Status
	r.request(subject.ActionStatus, nil, &st)
	return st
}

// waitCycles waits until every slave has made at least n cycles.
func (r *controlRig) waitCycles(n uint64) Status {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := r.status()
		ok := len(st.Slaves) > 0
		for _, s := range st.Slaves {
			ok = ok && s.Cycles >= n
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("slaves did not make %d cycles in 10s: %+v", n, st.Slaves)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestControlPushSwapsTheMapBetweenCycles(t *testing.T) {
	r := newControlRig(t)
	before := r.waitCycles(3)
	if before.Map.Source != control.SourceConfig || !before.Map.Confirmed || before.Buffer.Depth == 0 || before.HeartbeatInterval != 0.1 || before.Labels["site"] != "north" {
		t.Fatalf("before the push: map %+v, buffer %+v", before.Map, before.Buffer)
	}
	cyclesA := before.Slaves[0].Cycles
	// the config file's map has the version of the file as written
	if v, _ := control.MapVersion([]byte(r.doc(""))); before.Map.Version != v {
		t.Errorf("version of the config file's map %s, want %s (the file's)", before.Map.Version, v)
	}

	doc := r.doc(`, {"name": "voltage", "type": "holding", "address": 2, "datatype": "16uint"}`)
	rep := r.push(doc, func(p *control.PushRequest) { p.Confirm = true })
	want, _ := control.MapVersion([]byte(doc))
	if rep.Error != nil || rep.Result != control.ResultConfirmed || rep.Version != want || rep.Previous != before.Map.Version {
		t.Fatalf("push: %+v (error %v), want confirmed %s after %s", rep, rep.Error, want, before.Map.Version)
	}
	if c := rep.Changes; c == nil || c.Kept != 1 || len(c.Changed) != 1 || !strings.Contains(c.Changed[0], "#2") || len(c.Added)+len(c.Removed) != 0 {
		t.Fatalf("changes: %+v, want slave 2 changed and slave 1 kept", rep.Changes)
	}
	after := r.waitCycles(1)
	if after.Map.Version != want || after.Map.Pusher != "alice" || after.Map.Source != control.SourcePush {
		t.Fatalf("heartbeat map after the push: %+v", after.Map)
	}
	// slave 1 kept its poller (its cycle count goes on), slave 2 started anew
	if after.Slaves[0].Cycles < cyclesA {
		t.Errorf("unchanged slave 1 restarted: %d cycles before, %d after", cyclesA, after.Slaves[0].Cycles)
	}
	// buffered readings untouched: the oldest is still there
	if after.Buffer.FirstSeq != before.Buffer.FirstSeq || after.Buffer.Depth < before.Buffer.Depth || after.Buffer.Dropped != 0 {
		t.Errorf("buffer before %+v, after %+v: readings were lost", before.Buffer, after.Buffer)
	}

	var got control.MapGetReply
	r.request(subject.ActionMapGet, nil, &got)
	if got.Map.Version != want {
		t.Fatalf("map.get: %+v", got.Map)
	}
	if v, _ := control.MapVersion(got.Settings); v != want {
		t.Errorf("map.get returned a document of version %s, want %s", v, want)
	}

	// the same map again changes nothing
	if rep := r.push(doc, nil); rep.Result != control.ResultUnchanged {
		t.Errorf("second push: %+v, want unchanged", rep)
	}

	// a restart keeps the pushed map (persisted in the data dir)
	r.a.Close()
	if _, err := os.Stat(filepath.Join(r.dir, "data", MapFile)); err != nil {
		t.Fatal(err)
	}
	r.start()
	if st := r.status(); st.Map.Version != want || st.Map.Pusher != "alice" || st.Map.Previous != before.Map.Version {
		t.Fatalf("after a restart: map %+v, want %s pushed by alice", st.Map, want)
	}

	// a changed config file wins over the pushed map, which is set aside
	r.a.Close()
	write(t, r.dir, "settings.json", strings.Replace(r.doc(""), `"period": 0.05`, `"period": 0.06`, 1))
	r.start()
	if st := r.status(); st.Map.Source != control.SourceConfig {
		t.Fatalf("after editing the config file: map %+v, want the config file's", st.Map)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "data", MapFile+".replaced")); err != nil {
		t.Errorf("pushed map not set aside: %v", err)
	}
}

func TestControlPartialPushAndDryRun(t *testing.T) {
	r := newControlRig(t)
	st := r.waitCycles(1)
	partial := `{"modbusMaps": {"A": [{"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint"},
		{"name": "humidity", "type": "holding", "address": 2, "datatype": "16uint"}]}}`
	r.mem.SetRegisters(1, modbus.HoldingRegisters, 2, 55)
	rep := r.push(partial, func(p *control.PushRequest) { p.Partial, p.DryRun = true, true })
	if rep.Error != nil || rep.Result != control.ResultDryRun || rep.Version != st.Map.Version {
		t.Fatalf("dry run: %+v (error %v)", rep, rep.Error)
	}
	if len(rep.DryRun) != 1 || rep.DryRun[0].Variable != "humidity" || rep.DryRun[0].Value != 55.0 {
		t.Fatalf("dry-run readings %+v, want humidity = 55 only (temperature did not change)", rep.DryRun)
	}
	if now := r.status(); now.Map.Version != st.Map.Version {
		t.Fatalf("a dry run changed the map: %s -> %s", st.Map.Version, now.Map.Version)
	}
	// the same partial, applied: the merged document runs
	rep = r.push(partial, func(p *control.PushRequest) { p.Partial = true })
	if rep.Error != nil || rep.Result != control.ResultApplied || len(rep.Changes.Changed) != 1 || rep.Changes.Kept != 1 {
		t.Fatalf("partial push: %+v (error %v)", rep, rep.Error)
	}
	var got control.MapGetReply
	r.request(subject.ActionMapGet, nil, &got)
	if !strings.Contains(string(got.Settings), "humidity") || !strings.Contains(string(got.Settings), `"B"`) {
		t.Fatalf("merged map %s", got.Settings)
	}
}

func TestControlRefusesBadPushes(t *testing.T) {
	r := newControlRig(t)
	st := r.waitCycles(1)
	stranger, _ := nkeys.CreateUser()
	good := r.doc(`, {"name": "x", "type": "holding", "address": 3, "datatype": "16uint"}`)
	sign := func(kp nkeys.KeyPair, req *control.PushRequest) *control.PushRequest {
		if err := control.Sign(kp, req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	base := func() *control.PushRequest {
		return &control.PushRequest{Edge: "e1", Settings: json.RawMessage(good), Pusher: "mallory", IssuedAt: time.Now()}
	}
	tests := []struct {
		name   string
		req    func() any
		code   string
		detail string
	}{
		{"unsigned", func() any { return base() }, control.CodeUnsigned, ""},
		{"signed by an unknown key", func() any { return sign(stranger, base()) }, control.CodeUntrustedKey, ""},
		{"altered after signing", func() any {
			req := sign(r.op, base())
			req.Settings = json.RawMessage(r.doc(`, {"name": "x", "type": "holding", "address": 4, "datatype": "16uint"}`))
			return req
		}, control.CodeBadSignature, ""},
		{"signed for another edge", func() any {
			req := base()
			req.Edge = "e2"
			return sign(r.op, req)
		}, control.CodeWrongEdge, ""},
		{"too old", func() any {
			req := base()
			req.IssuedAt = time.Now().Add(-time.Hour)
			return sign(r.op, req)
		}, control.CodeExpired, ""},
		{"invalid map, same errors as at start-up", func() any {
			req := base()
			req.Settings = json.RawMessage(strings.Replace(good, `"map": "B"`, `"map": "C"`, 1))
			return sign(r.op, req)
		}, control.CodeInvalidSettings, "settings.modbusSlaves[1].map"},
		{"unknown field", func() any { return map[string]any{"edge": "e1", "colour": "red"} }, control.CodeBadRequest, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep control.PushReply
			r.request(subject.ActionMapPush, tc.req(), &rep)
			if rep.Result != control.ResultRefused || rep.Error == nil || rep.Error.Code != tc.code {
				t.Fatalf("got %+v (error %+v), want refused with %s", rep, rep.Error, tc.code)
			}
			if tc.detail != "" && !strings.Contains(strings.Join(rep.Error.Details, "\n"), tc.detail) {
				t.Errorf("details %q do not name %s", rep.Error.Details, tc.detail)
			}
			now := r.status()
			if now.Map.Version != st.Map.Version {
				t.Fatalf("a refused push changed the map")
			}
			if now.Control.Refused != uint64(i+1) {
				t.Errorf("refused counter %d, want %d", now.Control.Refused, i+1)
			}
		})
	}
}

func TestControlRollback(t *testing.T) {
	r := newControlRig(t)
	st := r.waitCycles(1)
	rollback := func() control.RollbackReply {
		req := &control.RollbackRequest{Edge: "e1", Pusher: "bob", IssuedAt: time.Now()}
		if err := control.Sign(r.op, req); err != nil {
			t.Fatal(err)
		}
		var rep control.RollbackReply
		r.request(subject.ActionMapRollback, req, &rep)
		return rep
	}
	if rep := rollback(); rep.Error == nil || rep.Error.Code != control.CodeNoPrevious {
		t.Fatalf("rollback without a previous map: %+v", rep)
	}
	var unsigned control.RollbackReply
	r.request(subject.ActionMapRollback, control.RollbackRequest{Edge: "e1", Pusher: "x", IssuedAt: time.Now()}, &unsigned)
	if unsigned.Error == nil || unsigned.Error.Code != control.CodeUnsigned {
		t.Fatalf("unsigned rollback: %+v", unsigned)
	}
	pushed := r.push(r.doc(`, {"name": "x", "type": "holding", "address": 3, "datatype": "16uint"}`), nil)
	if pushed.Result != control.ResultApplied {
		t.Fatalf("push: %+v", pushed)
	}
	rep := rollback()
	if rep.Error != nil || rep.Version != st.Map.Version || rep.Previous != pushed.Version {
		t.Fatalf("rollback: %+v, want %s restored", rep, st.Map.Version)
	}
	now := r.status()
	if now.Map.Version != st.Map.Version || now.Map.RolledBack == nil || now.Map.RolledBack.Automatic || now.Control.Rollbacks != 1 {
		t.Fatalf("after the rollback: map %+v, control %+v", now.Map, now.Control)
	}
}

// A new map whose first cycles fail on a slave that answered under the
// old one is rolled back on its own.
func TestControlAutomaticRollback(t *testing.T) {
	r := newControlRig(t)
	st := r.waitCycles(2)
	// register 50 of unit 2 does not exist: every cycle of the new map fails
	bad := r.doc(`, {"name": "ghost", "type": "holding", "address": 50, "datatype": "16uint"}`)
	rep := r.push(bad, func(p *control.PushRequest) { p.Confirm = true })
	if rep.Result != control.ResultRolledBack || rep.RolledBack == nil || !rep.RolledBack.Automatic || rep.Version != st.Map.Version {
		t.Fatalf("push of a failing map: %+v (rolled back %+v), want rolled_back to %s", rep, rep.RolledBack, st.Map.Version)
	}
	if !strings.Contains(rep.RolledBack.Reason, "#2") {
		t.Errorf("reason %q does not name slave 2", rep.RolledBack.Reason)
	}
	now := r.status()
	if now.Map.Version != st.Map.Version || now.Map.RolledBack == nil || now.Control.AutoRollbacks != 1 {
		t.Fatalf("heartbeat after the automatic rollback: map %+v, control %+v", now.Map, now.Control)
	}
}

func TestControlReadWriteAndConfig(t *testing.T) {
	r := newControlRig(t)
	r.waitCycles(1)
	tests := []struct {
		name   string
		action string
		req    any
		code   string
		values []any
	}{
		{"read a variable", subject.ActionRead, control.ReadRequest{Slave: 1, Variable: "power"}, "", []any{500.0}},
		{"read raw registers", subject.ActionRead, control.ReadRequest{Slave: 1, Table: "holding", Address: "1", Count: 2}, "", []any{500.0, 7.0}},
		{"read a missing register", subject.ActionRead, control.ReadRequest{Slave: 1, Table: "holding", Address: "60"}, control.CodeModbus, nil},
		{"read an unknown slave", subject.ActionRead, control.ReadRequest{Slave: 7, Variable: "power"}, control.CodeNotFound, nil},
		{"read an unknown variable", subject.ActionRead, control.ReadRequest{Slave: 0, Variable: "power"}, control.CodeNotFound, nil},
		{"read a bad datatype", subject.ActionRead, control.ReadRequest{Slave: 0, Table: "holding", Address: "1", Datatype: "17uint"}, control.CodeBadRequest, nil},
		{"write a read-only variable", subject.ActionWrite, control.WriteRequest{Slave: 1, Variable: "power", Value: 3}, control.CodeNotWritable, nil},
		{"write beyond max", subject.ActionWrite, control.WriteRequest{Slave: 1, Variable: "setpoint", Value: 101}, control.CodeOutOfRange, nil},
		{"write a writable variable", subject.ActionWrite, control.WriteRequest{Slave: 1, Variable: "setpoint", Value: 42, Pusher: "carol"}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep struct {
				Values []any          `json:"values"`
				Value  any            `json:"value"`
				Error  *control.Error `json:"error"`
			}
			r.request(tc.action, tc.req, &rep)
			switch {
			case tc.code == "" && rep.Error != nil:
				t.Fatalf("got error %+v", rep.Error)
			case tc.code != "" && (rep.Error == nil || rep.Error.Code != tc.code):
				t.Fatalf("got %+v, want error %s", rep, tc.code)
			}
			if tc.values != nil && fmt.Sprint(rep.Values) != fmt.Sprint(tc.values) {
				t.Errorf("values %v, want %v", rep.Values, tc.values)
			}
		})
	}
	if got := r.mem.Registers(2, modbus.HoldingRegisters, 5, 1)[0]; got != 42 {
		t.Errorf("register 5 of unit 2 is %d after the write, want 42", got)
	}
	// the rate limit of MQTT writes applies: burst 5 per variable
	limited := false
	for range 10 {
		var rep control.WriteReply
		r.request(subject.ActionWrite, control.WriteRequest{Slave: 1, Variable: "setpoint", Value: 1}, &rep)
		if rep.Error != nil && rep.Error.Code == control.CodeRateLimited {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("10 writes in a row were not rate limited")
	}

	var cg control.ConfigGetReply
	r.request(subject.ActionConfigGet, nil, &cg)
	if cg.Error != nil || strings.Contains(string(cg.Config), "local-secret-pw") || !strings.Contains(string(cg.Config), control.Redacted) ||
		!strings.Contains(string(cg.Config), `"modbusSlaves"`) {
		t.Fatalf("config.get: %s (error %v)", cg.Config, cg.Error)
	}
}

// With an MQTT section, control writes go through the MQTT bridge (its
// rules, limits and audit trail), and a push rebuilds the bridge for the
// new map.
func TestControlWithMQTTBridge(t *testing.T) {
	r := newControlRig(t)
	r.a.Close()
	brokerPort := freePort(t) // nothing listens: the bridge keeps retrying, which is enough here
	withMQTT := strings.Replace(r.doc(""), `"period": 0.05`,
		fmt.Sprintf(`"period": 0.05, "mqtt": {"host": "127.0.0.1:%d"}`, brokerPort), 1)
	write(t, r.dir, "settings.json", withMQTT)
	r.start()
	r.waitCycles(1)
	var w control.WriteReply
	r.request(subject.ActionWrite, control.WriteRequest{Slave: 1, Variable: "setpoint", Value: 17, Pusher: "carol"}, &w)
	if w.Error != nil {
		t.Fatalf("write through the bridge: %+v", w.Error)
	}
	br := r.a.bridge.Load()
	if br == nil {
		t.Fatal("no MQTT bridge")
	}
	log := br.b.AuditLog()
	if len(log) != 1 || !strings.HasPrefix(log[0].Source, "nats:t.edge.e1.write by carol") || log[0].Variable != "setpoint" {
		t.Fatalf("bridge audit trail %+v, want the control write", log)
	}
	doc := strings.Replace(withMQTT, `"max": 100`, `"max": 50`, 1)
	if rep := r.push(doc, nil); rep.Error != nil || rep.Result != control.ResultApplied {
		t.Fatalf("push: %+v (%v)", rep, rep.Error)
	}
	if nb := r.a.bridge.Load(); nb == nil || nb == br {
		t.Fatal("the MQTT bridge was not rebuilt for the new map")
	}
	r.request(subject.ActionWrite, control.WriteRequest{Slave: 1, Variable: "setpoint", Value: 60}, &w)
	if w.Error == nil || w.Error.Code != control.CodeOutOfRange {
		t.Fatalf("write above the new map's max: %+v", w.Error)
	}
	if st := r.status(); st.MQTT == nil {
		t.Error("heartbeat without MQTT stats after the push")
	}
}

// Trusted keys are re-read on reload; the rest of the control config is
// checked like every other field.
func TestControlTrustedKeysReloadAndConfigErrors(t *testing.T) {
	r := newControlRig(t)
	r.waitCycles(1)
	doc := r.doc(`, {"name": "x", "type": "holding", "address": 3, "datatype": "16uint"}`)
	cfg, err := Load(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Control.TrustedKeys = []string{}
	if err := r.a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if rep := r.push(doc, nil); rep.Error == nil || rep.Error.Code != control.CodeUntrustedKey {
		t.Fatalf("push after the key was removed: %+v", rep)
	}
	pub, _ := r.op.PublicKey()
	cfg.Control.TrustedKeys = []string{pub}
	if err := r.a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if rep := r.push(doc, nil); rep.Error != nil {
		t.Fatalf("push after the key was trusted again: %+v", rep.Error)
	}

	seed, _ := r.op.Seed()
	for i, tc := range []struct{ yaml, want string }{
		{"control: {trustedKeys: [not-a-key]}", "control.trustedKeys[0]"},
		{fmt.Sprintf("control: {trustedKeys: [%q]}", seed), "control.trustedKeys[0]"},
		{"control: {confirmCycles: 1000}", "control.confirmCycles"},
		{"control: {maxSignatureAge: 1s}", "control.maxSignatureAge"},
		{"control: {confirmTimeout: 1h}", "control.confirmTimeout"},
		{"edge: {id: e, labels: {'a b': x}}", "edge.labels"},
	} {
		cfg := "edge: {id: e}\nsettingsFile: settings.json\n" + tc.yaml + "\n"
		if strings.HasPrefix(tc.yaml, "edge:") {
			cfg = "settingsFile: settings.json\n" + tc.yaml + "\n"
		}
		_, err := Load(write(t, r.dir, fmt.Sprintf("bad%d.yaml", i), cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.yaml, err, tc.want)
		}
	}
}

// Removing a slave: dry run and push report it alike, its poller stops and
// the other one goes on.
func TestControlRemoveSlave(t *testing.T) {
	r := newControlRig(t)
	r.waitCycles(1)
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.doc("")), &doc); err != nil {
		t.Fatal(err)
	}
	doc["modbusSlaves"] = doc["modbusSlaves"].([]any)[:1]
	one, _ := json.Marshal(doc)
	dry := r.push(string(one), func(p *control.PushRequest) { p.DryRun = true })
	rep := r.push(string(one), nil)
	want := fmt.Sprintf("[1:tcp://127.0.0.1:%d#2]", r.port)
	for _, c := range []*control.Changes{dry.Changes, rep.Changes} {
		if c == nil || fmt.Sprint(c.Removed) != want || c.Kept != 1 || len(c.Added)+len(c.Changed) != 0 {
			t.Fatalf("changes %+v, want %s removed and 1 kept", c, want)
		}
	}
	if len(dry.DryRun) != 0 {
		t.Errorf("dry run read %+v, want nothing (no new or changed variable)", dry.DryRun)
	}
	if st := r.waitCycles(1); len(st.Slaves) != 1 || !strings.HasSuffix(st.Slaves[0].Name, "#1") {
		t.Fatalf("slaves after the push: %+v", st.Slaves)
	}
}
