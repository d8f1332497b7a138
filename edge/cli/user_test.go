package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeHub answers the hub REST paths the user and app commands use, with
// the hub's response shapes, and records the requests.
type fakeHub struct {
	mu       sync.Mutex
	requests []string
	bodies   []map[string]any
	users    map[string]map[string]any
	loggedIn bool
}

func newFakeHub(t *testing.T) (*fakeHub, *httptest.Server) {
	h := &fakeHub{users: map[string]map[string]any{
		"admin": {"_id": "admin", "username": "admin", "admin": true, "grants": map[string]any{}}}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	h.requests = append(h.requests, r.Method+" "+r.URL.Path)
	h.bodies = append(h.bodies, body)
	reply := func(code int, v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	if r.URL.Path == "/api/v2/login" {
		if body["user"] != "admin" || body["password"] != "admin-password" {
			reply(401, map[string]any{"status": "error", "message": "unauthorized: wrong user or password"})
			return
		}
		h.loggedIn = true
		reply(200, map[string]any{"status": "success", "data": map[string]any{"userId": "admin", "authToken": "tok-1"}})
		return
	}
	if r.Header.Get("X-User-ID") != "admin" || (r.Header.Get("X-Auth-Token") != "tok-1" && r.Header.Get("X-Auth-Token") != "given-token") {
		reply(401, map[string]any{"status": "error", "message": "credentials required"})
		return
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/v2/logout":
		h.loggedIn = false
		reply(200, map[string]any{"status": "success", "data": map[string]any{"message": "You've been logged out!"}})
	case r.Method == "POST" && r.URL.Path == "/api/v2/users":
		name := body["username"].(string)
		if _, ok := h.users[name]; ok {
			reply(409, map[string]any{"status": "error", "message": "auth: add user: already exists: " + name})
			return
		}
		u := map[string]any{"_id": name, "username": name, "admin": body["admin"], "grants": body["grants"], "email": body["email"]}
		h.users[name] = u
		out := map[string]any{}
		for k, v := range u {
			out[k] = v
		}
		if body["password"] == nil {
			out["password"] = "GENERATED-PW"
		}
		reply(200, map[string]any{"status": "success", "message": "User added", "data": out})
	case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, "/api/v2/users/"):
		u := h.users[strings.TrimPrefix(r.URL.Path, "/api/v2/users/")]
		if u == nil {
			reply(404, map[string]any{"status": "error", "message": "not found: user"})
			return
		}
		g, _ := u["grants"].(map[string]any)
		if g == nil {
			g = map[string]any{}
		}
		for k, v := range body["grants"].(map[string]any) {
			if v == "none" {
				delete(g, k)
			} else {
				g[k] = v
			}
		}
		u["grants"] = g
		reply(200, map[string]any{"status": "success", "message": "User updated", "data": u})
	case r.Method == "GET" && r.URL.Path == "/api/v2/users":
		var list []any
		for _, n := range []string{"admin", "alice"} {
			if u, ok := h.users[n]; ok {
				list = append(list, u)
			}
		}
		reply(200, map[string]any{"status": "success", "data": list})
	case r.Method == "POST" && r.URL.Path == "/api/v2/apps":
		reply(200, map[string]any{"status": "success", "message": "App added",
			"data": map[string]any{"appId": "APP123", "keyId": "KEY456", "app": map[string]any{"_id": "APP123", "name": body["name"]}}})
	default:
		reply(404, map[string]any{"status": "error", "message": "no such API path"})
	}
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), Env{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestUserCommands(t *testing.T) {
	t.Setenv("GRIDEDGE_PASSWORD", "")
	t.Setenv("GRIDEDGE_TOKEN", "")
	hub, srv := newFakeHub(t)
	auth := []string{"--hub", srv.URL, "--password", "admin-password"}

	code, out, errs := run(t, append([]string{"user", "add", "alice", "--email", "alice@x.test", "--grant", "demo=read", "--grant", "fs:fs=write"}, auth...)...)
	if code != 0 || !strings.Contains(out, "added user alice") || !strings.Contains(out, "password: GENERATED-PW") {
		t.Fatalf("user add: %d %q %q", code, out, errs)
	}
	if hub.loggedIn {
		t.Fatal("the command did not log out")
	}
	body := hub.bodies[1]
	if body["email"] != "alice@x.test" || body["grants"].(map[string]any)["demo"] != "read" || body["grants"].(map[string]any)["fs:fs"] != "write" {
		t.Fatalf("user add sent %v", body)
	}
	if strings.Join(hub.requests, ";") != "POST /api/v2/login;POST /api/v2/users;POST /api/v2/logout" {
		t.Fatalf("requests %v", hub.requests)
	}

	code, out, errs = run(t, append([]string{"user", "grant"}, append(auth, "alice", "demo", "write")...)...)
	if code != 0 || !strings.Contains(out, "demo=write") || !strings.Contains(out, "fs:fs=write") {
		t.Fatalf("user grant: %d %q %q", code, out, errs)
	}

	// An existing token instead of a password.
	code, out, errs = run(t, "user", "list", "--hub", srv.URL, "--token", "given-token")
	if code != 0 || !strings.Contains(out, "USER") || !strings.Contains(out, "alice") || !strings.Contains(out, "alice@x.test") {
		t.Fatalf("user list: %d %q %q", code, out, errs)
	}

	code, out, errs = run(t, append([]string{"app", "add", "grafana", "--grant", "demo:read"}, auth...)...)
	if code != 0 || !strings.Contains(out, "appId: APP123") || !strings.Contains(out, "keyId: KEY456") {
		t.Fatalf("app add: %d %q %q", code, out, errs)
	}
}

func TestUserCommandErrors(t *testing.T) {
	t.Setenv("GRIDEDGE_PASSWORD", "")
	t.Setenv("GRIDEDGE_TOKEN", "")
	_, srv := newFakeHub(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"user", "add", "--hub", srv.URL, "--password", "wrong-password", "bob"}, 1, "wrong user or password"},
		{[]string{"user", "add", "--hub", srv.URL, "bob"}, 1, "--password"},
		{[]string{"user", "add", "--hub", srv.URL, "--password", "admin-password", "admin"}, 1, "409"},
		{[]string{"user", "add", "--hub", srv.URL, "--password", "admin-password"}, 2, "missing NAME"},
		{[]string{"user", "grant", "--hub", srv.URL, "--password", "admin-password", "bob", "demo", "all"}, 1, "not one of"},
		{[]string{"user", "grant", "--hub", srv.URL, "--password", "admin-password", "ghost", "demo", "read"}, 1, "404"},
		{[]string{"user", "add", "--grant", "demo", "bob"}, 2, "layer=permission"},
		{[]string{"user", "list", "--hub", "localhost:8080", "--password", "x"}, 1, "--hub"},
	}
	for _, c := range cases {
		code, _, errs := run(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
}
