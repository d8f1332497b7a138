package ddp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/subject"
)

const testDomain = "test"

var quiet = slog.New(slog.DiscardHandler)

// env is a store, NATS, auth and a DDP server over httptest.
type env struct {
	t    testing.TB
	st   store.Store // the raw store
	ws   store.Store // the store whose writes publish change events
	nc   *nats.Conn
	auth *auth.Service
	srv  *Server
	http *httptest.Server
	// rest is the REST API whose login throttle and rate limiter the DDP
	// servers share (as the daemon wires them).
	rest *api.Server
}

// startNATS runs an in-process NATS server.
func startNATS(t testing.TB) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// publisher returns the hub's change publisher on nc.
func publisher(nc *nats.Conn) func(store.Change) {
	return func(c store.Change) {
		data, _ := json.Marshal(c)
		_ = nc.Publish(subject.StorageChanged(testDomain, c.Layer, c.Collection), data)
	}
}

// newEnv starts an env; opts change the REST API's configuration (its
// login throttle and rate limit apply to DDP).
func newEnv(t testing.TB, limits Limits, opts ...func(*api.Config)) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	nc := startNATS(t)
	e := &env{t: t, st: st, nc: nc, ws: store.WithChanges(st, publisher(nc))}
	e.auth = auth.New(st, auth.Options{BcryptCost: bcrypt.MinCost, Logger: quiet})
	ctx := context.Background()
	if _, err := e.auth.Bootstrap(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	layer := store.Layer{ID: "demo", Collections: []store.Collection{
		{Name: "meters", Extra: map[string]any{"publicFields": []any{"name"}}}, {Name: "other"}}}
	if err := st.PutLayer(ctx, layer); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.AddUser(ctx, auth.NewUser{Name: "alice", Password: "alice-password", Email: "alice@example.org",
		Grants: map[string]auth.Perm{"demo": auth.Write}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.AddUser(ctx, auth.NewUser{Name: "pub", Password: "pub-password",
		Grants: map[string]auth.Perm{"demo": auth.Public}}); err != nil {
		t.Fatal(err)
	}
	e.rest = &api.Server{Store: e.ws, Auth: e.auth, Logger: quiet}
	for _, o := range opts {
		o(&e.rest.Config)
	}
	e.srv = e.newServer(limits)
	e.http = httptest.NewServer(e.srv.Mount(e.rest.Handler()))
	t.Cleanup(e.http.Close)
	return e
}

// newServer starts another DDP server on the same store and NATS.
func (e *env) newServer(limits Limits) *Server {
	e.t.Helper()
	srv, err := New(Config{Store: e.ws, Auth: e.auth, NC: e.nc, Domain: testDomain, Limits: limits, Logger: quiet,
		Guard: e.rest.Guard()})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(srv.Close)
	return srv
}

// client is a raw DDP client for tests.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

func (e *env) dial(path string) *client {
	e.t.Helper()
	return dialURL(e.t, "ws"+strings.TrimPrefix(e.http.URL, "http")+path)
}

func dialURL(t testing.TB, url string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t: t, ws: ws}
	if m := c.read(); m["server_id"] == nil {
		t.Fatalf("first message = %v, want server_id", m)
	}
	return c
}

// connected dials /websocket and completes the handshake.
func (e *env) connected() *client {
	c := e.dial("/websocket")
	c.send(map[string]any{"msg": "connect", "version": "1", "support": []any{"1", "pre2"}})
	if m := c.read(); m["msg"] != "connected" {
		e.t.Fatalf("handshake: got %v, want connected", m)
	}
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next message, skipping server pings.
func (c *client) read() map[string]any {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatalf("read %q: %v", data, err)
		}
		if m["msg"] == "ping" {
			continue
		}
		return m
	}
}

// until reads messages up to and including the first one for which stop is
// true, and returns them all.
func (c *client) until(stop func(map[string]any) bool) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for {
		m := c.read()
		out = append(out, m)
		if stop(m) {
			return out
		}
	}
}

// call runs a method and returns the messages up to updated, and the result message.
func (c *client) call(id, method string, params ...any) (msgs []map[string]any, result map[string]any) {
	c.t.Helper()
	if params == nil {
		params = []any{}
	}
	c.send(map[string]any{"msg": "method", "id": id, "method": method, "params": params})
	msgs = c.until(func(m map[string]any) bool { return m["msg"] == "updated" })
	for _, m := range msgs {
		if m["msg"] == "result" && m["id"] == id {
			result = m
		}
	}
	if result == nil {
		c.t.Fatalf("%s: no result in %v", method, msgs)
	}
	return msgs, result
}

// login logs in with a plain password and fails the test otherwise.
func (c *client) login(user, password string) map[string]any {
	c.t.Helper()
	_, r := c.call("login-"+user, "login", map[string]any{"user": map[string]any{"username": user}, "password": password})
	res, ok := r["result"].(map[string]any)
	if !ok {
		c.t.Fatalf("login %s: %v", user, r)
	}
	return res
}

// sub subscribes and returns the messages up to ready or nosub.
func (c *client) sub(id, name string, params ...any) []map[string]any {
	c.t.Helper()
	if params == nil {
		params = []any{}
	}
	c.send(map[string]any{"msg": "sub", "id": id, "name": name, "params": params})
	return c.until(func(m map[string]any) bool {
		return (m["msg"] == "ready" || m["msg"] == "nosub") && (m["id"] == id || contains(m["subs"], id))
	})
}

func contains(v any, s string) bool {
	arr, _ := v.([]any)
	for _, e := range arr {
		if e == s {
			return true
		}
	}
	return false
}

// kinds lists the msg of each message.
func kinds(msgs []map[string]any) string {
	var b []string
	for _, m := range msgs {
		s, _ := m["msg"].(string)
		if s == "added" || s == "changed" || s == "removed" {
			s += ":" + m["id"].(string)
		}
		b = append(b, s)
	}
	return strings.Join(b, " ")
}

func httptestServer(t testing.TB, s *Server) string {
	h := httptest.NewServer(s.Mount(nil))
	t.Cleanup(h.Close)
	return h.URL
}

func authDigest(pw string) string { return auth.PasswordDigest(pw) }
