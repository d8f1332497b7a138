package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/hub/store/mongo"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

const adminPassword = "admin-test-password"

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a hub API on a real bolt store, served by httptest.
type env struct {
	t     testing.TB
	st    store.Store
	auth  *auth.Service
	api   *Server
	srv   *httptest.Server
	clock *fakeClock
	admin cred
}

// cred is how a request authenticates.
type cred struct {
	id, secret string
	query      bool // as appId/keyId query parameters
}

var noCred = cred{}

// backend is the store the tests run on: "bolt", or "mongo" (TestSeedOnMongo).
var backend = "bolt"

// openBackend opens an empty store of the current backend, closed at cleanup.
func openBackend(t testing.TB) store.Store {
	t.Helper()
	if backend == "mongo" {
		uri, _ := mongotest.URI(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := mongo.Open(ctx, uri, mongotest.DatabaseName())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = st.Database().Drop(context.Background())
			_ = st.Close()
		})
		return st
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newEnv starts an API with the layer "demo" (collections meters, sites)
// and an admin logged in. configure may change the Server before start.
func newEnv(t testing.TB, configure ...func(*Server)) *env {
	t.Helper()
	st := openBackend(t)
	clock := &fakeClock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	as := auth.New(st, auth.Options{BcryptCost: bcrypt.MinCost, TokenTTL: time.Hour, Now: clock.Now, Logger: log})
	if _, err := as.Bootstrap(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.PutLayer(ctx, store.Layer{ID: "demo", Label: "Demo", Collections: []store.Collection{
		{Name: "meters"}, {Name: "sites", Geo: true}, {Name: "series"}}}); err != nil {
		t.Fatal(err)
	}
	s := &Server{Store: st, Auth: as, Version: "v-test", Logger: log}
	s.Config.HTTP.RateLimit.Off = true // TestError429 turns it on
	for _, c := range configure {
		c(s)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, auth: as, api: s, srv: srv, clock: clock}
	e.admin = e.login("admin", adminPassword)
	return e
}

// login logs a user in and returns its credentials.
func (e *env) login(user, password string) cred {
	e.t.Helper()
	code, res := e.do("POST", "/login", map[string]any{"user": user, "password": password}, noCred)
	if code != 200 {
		e.t.Fatalf("login %s: %d %v", user, code, res)
	}
	d := res["data"].(map[string]any)
	return cred{id: d["userId"].(string), secret: d["authToken"].(string)}
}

// addUser adds a user with grants and logs it in.
func (e *env) addUser(name string, grants map[string]auth.Perm) cred {
	e.t.Helper()
	if _, err := e.auth.AddUser(context.Background(), auth.NewUser{Name: name, Password: name + "-password", Grants: grants}); err != nil {
		e.t.Fatal(err)
	}
	return e.login(name, name+"-password")
}

// addApp adds an app and returns its credentials.
func (e *env) addApp(grants map[string]auth.Perm, query bool) cred {
	e.t.Helper()
	k, err := e.auth.AddApp(context.Background(), auth.NewApp{Name: "test app", Grants: grants}, "admin")
	if err != nil {
		e.t.Fatal(err)
	}
	return cred{id: k.AppID, secret: k.KeyID, query: query}
}

// request builds a request to the API path (without /api/v2).
func (e *env) request(method, path string, body any, c cred) *http.Request {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	u := e.srv.URL + Prefix + path
	if c.query {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "appId=" + c.id + "&keyId=" + c.secret
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.query && c.id != "" {
		req.Header.Set("X-User-ID", c.id)
		req.Header.Set("X-Auth-Token", c.secret)
	}
	return req
}

// send sends a request and returns the status and raw body.
func (e *env) send(req *http.Request) (int, []byte, http.Header) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, data, resp.Header
}

// do sends a JSON request and decodes a JSON object answer.
func (e *env) do(method, path string, body any, c cred) (int, map[string]any) {
	e.t.Helper()
	code, data, _ := e.send(e.request(method, path, body, c))
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		e.t.Fatalf("%s %s: %d, body is not a JSON object: %q", method, path, code, data)
	}
	return code, m
}

// must sends a request that must succeed with 200 and status success.
func (e *env) must(method, path string, body any, c cred) map[string]any {
	e.t.Helper()
	code, m := e.do(method, path, body, c)
	if code != 200 || m["status"] != "success" {
		e.t.Fatalf("%s %s: got %d %v, want 200 success", method, path, code, m)
	}
	return m
}

// wantError checks an error answer: the status and the message part.
func (e *env) wantError(method, path string, body any, c cred, status int, msgPart string) map[string]any {
	e.t.Helper()
	code, m := e.do(method, path, body, c)
	if code != status || m["status"] != "error" {
		e.t.Fatalf("%s %s: got %d %v, want %d error", method, path, code, m, status)
	}
	if msg, _ := m["message"].(string); !strings.Contains(msg, msgPart) {
		e.t.Fatalf("%s %s: message %q does not say %q", method, path, msg, msgPart)
	}
	return m
}

// jsonEq compares two values through their JSON forms.
func jsonEq(t testing.TB, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	gj, _ := json.Marshal(gv)
	wj, _ := json.Marshal(wv)
	if !bytes.Equal(gj, wj) {
		t.Fatalf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

// strip removes the store-maintained fields from documents.
func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "_updated")
		delete(x, "_expired")
		return x
	case []any:
		for _, e := range x {
			strip(e)
		}
	}
	return v
}

func newUser(name, password, email string) auth.NewUser {
	return auth.NewUser{Name: name, Password: password, Email: email}
}

// Short names for permissions in tests.
type Perm = auth.Perm

const (
	PermPublic = auth.Public
	PermRead   = auth.Read
	PermWrite  = auth.Write
)

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
