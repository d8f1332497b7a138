package api

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

const fleetDomain = "t"

// fleetNATS starts an in-process nats-server and connects to it.
func fleetNATS(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// edgeListener subscribes to edge e1's map.push and map.rollback and
// checks what the hub sends the way an agent does (control.Verify with the
// trusted keys); it refuses a document without "modbusSlaves" as an agent
// refuses a map that does not validate, and records the pushers.
type edgeListener struct {
	pushers chan string
}

func listenAsEdge(t *testing.T, nc *nats.Conn, trusted ...string) *edgeListener {
	t.Helper()
	l := &edgeListener{pushers: make(chan string, 16)}
	respond := func(m *nats.Msg, v any) {
		data, _ := json.Marshal(v)
		if err := m.Respond(data); err != nil {
			t.Error(err)
		}
	}
	opts := control.VerifyOptions{Edge: "e1", Trusted: trusted}
	if _, err := nc.Subscribe(subject.EdgeControl(fleetDomain, "e1", subject.ActionMapPush), func(m *nats.Msg) {
		var req control.PushRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			respond(m, control.PushReply{Edge: "e1", Result: control.ResultRefused, Error: control.Errorf(control.CodeBadRequest, "%v", err)})
			return
		}
		if err := control.Verify(&req, opts); err != nil {
			respond(m, control.PushReply{Edge: "e1", Result: control.ResultRefused, Error: control.AsError(err, control.CodeBadSignature)})
			return
		}
		l.pushers <- req.Pusher
		var doc map[string]any
		_ = json.Unmarshal(req.Settings, &doc)
		version, _ := control.MapVersion(req.Settings)
		if _, ok := doc["modbusSlaves"]; !ok {
			respond(m, control.PushReply{Edge: "e1", Result: control.ResultRefused, Pushed: version, Error: &control.Error{
				Code: control.CodeInvalidSettings, Message: "the SETTINGS document does not validate", Details: []string{"modbusSlaves: missing"}}})
			return
		}
		result := control.ResultApplied
		if req.DryRun {
			result = control.ResultDryRun
		}
		respond(m, control.PushReply{Edge: "e1", Result: result, Version: version, Pushed: version})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(subject.EdgeControl(fleetDomain, "e1", subject.ActionMapRollback), func(m *nats.Msg) {
		var req control.RollbackRequest
		_ = json.Unmarshal(m.Data, &req)
		if err := control.Verify(&req, opts); err != nil {
			respond(m, control.RollbackReply{Edge: "e1", Error: control.AsError(err, control.CodeBadSignature)})
			return
		}
		l.pushers <- req.Pusher
		respond(m, control.RollbackReply{Edge: "e1", Error: control.Errorf(control.CodeNoPrevious, "no previous map is kept")})
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// fleetEnv is an API whose fleet control signs with a fresh key (none when
// withKey is false) on an in-process NATS server.
func fleetEnv(t *testing.T, withKey bool) (*env, *nats.Conn, string) {
	t.Helper()
	nc := fleetNATS(t)
	var kp nkeys.KeyPair
	pub := ""
	if withKey {
		var err error
		if kp, err = nkeys.CreateOperator(); err != nil {
			t.Fatal(err)
		}
		pub, _ = kp.PublicKey()
	}
	c, err := fleet.NewControl(nc, fleetDomain, kp)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 2 * time.Second
	return newEnv(t, func(s *Server) { s.Fleet = c }), nc, pub
}

var goodMap = map[string]any{"settings": map[string]any{"modbusSlaves": []any{}, "period": 1}}

// Fleet control is refused to callers without the fleet grant, to other
// users' tokens and without credentials; a hub without a signing key says
// how to configure one.
func TestAttackFleetControl(t *testing.T) {
	e, nc, pub := fleetEnv(t, true)
	listenAsEdge(t, nc, pub)
	reader := e.addUser("reader", map[string]auth.Perm{"demo": auth.Write, FleetGrant: auth.Read})
	nobody := e.addUser("nobody", map[string]auth.Perm{"demo": auth.Write})
	operator := e.addUser("operator", map[string]auth.Perm{FleetGrant: auth.Write})
	app := e.addApp(map[string]auth.Perm{"demo": auth.Write}, false)
	stolen := cred{id: operator.id, secret: nobody.secret} // nobody's token presented as the operator
	push, rollback, get := "/fleet/edges/e1/map", "/fleet/edges/e1/map/rollback", "/fleet/edges/e1/map"
	cases := []struct {
		name, method, path string
		c                  cred
		status             int
		msg                string
	}{
		{"no credentials push", "POST", push, noCred, 401, "credentials required"},
		{"no credentials rollback", "POST", rollback, noCred, 401, "credentials required"},
		{"no credentials key", "GET", "/fleet/key", noCred, 401, "credentials required"},
		{"another user's token", "POST", push, stolen, 401, "unauthorized"},
		{"no fleet grant push", "POST", push, nobody, 403, `{"fleet": "write"}`},
		{"no fleet grant map", "GET", get, nobody, 403, `{"fleet": "read"}`},
		{"no fleet grant key", "GET", "/fleet/key", nobody, 403, `{"fleet": "read"}`},
		{"fleet read may not push", "POST", push, reader, 403, `{"fleet": "write"}`},
		{"fleet read may not roll back", "POST", rollback, reader, 403, `{"fleet": "write"}`},
		{"app without the grant", "POST", push, app, 403, `app`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b any
			if c.method == "POST" {
				b = goodMap
			}
			e.wantError(c.method, c.path, b, c.c, c.status, c.msg)
		})
	}
	select {
	case p := <-listenAsEdge(t, nc, pub).pushers:
		t.Fatalf("a refused request reached the edge (pusher %q)", p)
	default:
	}

	// a hub without a key signs nothing and says how to enable it
	e2, nc2, _ := fleetEnv(t, false)
	l := listenAsEdge(t, nc2)
	admin := e2.admin
	for _, path := range []string{push, rollback} {
		e2.wantError("POST", path, goodMap, admin, 503, "fleet.signingKey")
	}
	if m := e2.must("GET", "/fleet/key", nil, admin); m["data"].(map[string]any)["signing"] != false {
		t.Errorf("fleet key without a key: %v", m)
	}
	select {
	case p := <-l.pushers:
		t.Fatalf("an unsigned request reached the edge (pusher %q)", p)
	default:
	}
	// an API without fleet control at all
	e3 := newEnv(t)
	e3.wantError("POST", push, goodMap, e3.admin, 503, "not available")
}

// A push and a rollback reach the edge signed by the hub's key for the
// logged-in user; the edge's refusals come back with their details.
func TestFleetMapPush(t *testing.T) {
	e, nc, pub := fleetEnv(t, true)
	l := listenAsEdge(t, nc, pub)
	operator := e.addUser("operator", map[string]auth.Perm{FleetGrant: auth.Write})

	m := e.must("GET", "/fleet/key", nil, operator)
	if d := m["data"].(map[string]any); d["publicKey"] != pub || d["signing"] != true {
		t.Fatalf("fleet key: %v, want %s", d, pub)
	}
	cases := []struct {
		name   string
		body   any
		status int
		result string
		msg    string
	}{
		{"dry run", map[string]any{"dryRun": true, "settings": goodMap["settings"]}, 200, control.ResultDryRun, ""},
		{"push", goodMap, 200, control.ResultApplied, ""},
		{"invalid map", map[string]any{"settings": map[string]any{"period": 1}}, 422, "", "modbusSlaves: missing"},
		{"settings not an object", map[string]any{"settings": []any{1}}, 400, "", "JSON object"},
		{"no settings", map[string]any{"dryRun": true}, 400, "", "settings"},
		{"not JSON", "{", 400, "", "invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, res := e.do("POST", "/fleet/edges/e1/map", c.body, operator)
			if code != c.status {
				t.Fatalf("got %d %v, want %d", code, res, c.status)
			}
			if c.result != "" {
				if d, _ := res["data"].(map[string]any); d["result"] != c.result || d["version"] == "" {
					t.Fatalf("reply %v, want result %s", res, c.result)
				}
				if p := <-l.pushers; p != "operator" {
					t.Errorf("pusher %q, want the logged-in user", p)
				}
				return
			}
			if msg, _ := res["message"].(string); !strings.Contains(msg, c.msg) {
				t.Fatalf("message %q, want it to say %q", msg, c.msg)
			}
			if c.status == http.StatusUnprocessableEntity {
				<-l.pushers
				d, _ := res["data"].(map[string]any)
				ed, _ := d["error"].(map[string]any)
				if ed["code"] != control.CodeInvalidSettings || !strings.HasPrefix(d["pushed"].(string), "sha256:") {
					t.Errorf("refusal data %v, want the edge's reply with its error", d)
				}
			}
		})
	}
	e.wantError("POST", "/fleet/edges/e1/map/rollback", nil, operator, 409, "no previous map")
	if p := <-l.pushers; p != "operator" {
		t.Errorf("rollback pusher %q", p)
	}
	// an edge that does not trust the hub's key: 502 naming the key to add
	untrusting, nc2, _ := fleetEnv(t, true)
	listenAsEdge(t, nc2, "ODIFFERENTKEYXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
	k := untrusting.must("GET", "/fleet/key", nil, untrusting.admin)["data"].(map[string]any)["publicKey"].(string)
	untrusting.wantError("POST", "/fleet/edges/e1/map", goodMap, untrusting.admin, 502, "add the hub's key "+k+" to the edge's control.trustedKeys")
	// nobody answers for e2; a bad edge id is refused before NATS
	e.wantError("POST", "/fleet/edges/e2/map", goodMap, operator, 503, "offline")
	e.wantError("GET", "/fleet/edges/e2/map", nil, operator, 503, "offline")
	e.wantError("POST", "/fleet/edges/a.b/map", goodMap, operator, 400, "edge id")

	// an edge the fleet marked offline is answered at once, nothing sent
	ctx := context.Background()
	if err := fleet.EnsureLayer(ctx, e.st, fleet.Collection); err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if _, err := e.st.Bulk(ctx, fleet.Layer, fleet.Collection, []store.Document{{"_id": "e1", "state": control.StateOffline, "lastSeen": last}}, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path string }{{"POST", "/fleet/edges/e1/map"}, {"POST", "/fleet/edges/e1/map/rollback"}, {"GET", "/fleet/edges/e1/map"}} {
		var b any
		if c.path == "/fleet/edges/e1/map" && c.method == "POST" {
			b = goodMap
		}
		e.wantError(c.method, c.path, b, operator, 503, "edge e1 is offline (last heartbeat 2026-05-01T12:00:00Z); nothing was sent")
	}
	select {
	case p := <-l.pushers:
		t.Fatalf("a request for an offline edge reached it (pusher %q)", p)
	default:
	}
}

// fleet.signingKey must name a readable nkey seed: the hub does not start
// otherwise, and the error names the key.
func TestFleetSigningKeyConfig(t *testing.T) {
	kp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path string
		wantErr    string
	}{
		{"unset", "", ""},
		{"a seed", write("seed.nk", seed), ""},
		{"a public key", write("pub.nk", []byte(pub)), "fleet.signingKey"},
		{"missing", filepath.Join(dir, "nope.nk"), "fleet.signingKey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg Config
			cfg.Fleet.SigningKey = c.path
			cfg.Defaults()
			err := cfg.Validate()
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Validate: %v, want %q", err, c.wantErr)
			}
		})
	}
}
