package api

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// One test per error status: the body is always {status: "error", message}.

func TestError400(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	cases := []struct {
		method, path string
		body         any
		msg          string
	}{
		{"POST", "/demo/meters", `{"name": `, "invalid JSON body"},
		{"POST", "/demo/meters", `[1, 2]`, "element 0 of the array is a number"},
		{"POST", "/demo/meters", `[]`, "empty"},
		{"POST", "/demo/meters", ``, "empty"},
		{"PATCH", "/demo/meters/x", `{"$inc": {"n": "a"}}`, "bad update"},
		{"GET", "/demo/meters?query=" + url.QueryEscape(`{"a":{"$foo":1}}`), nil, `unknown operator "$foo"`},
		{"GET", "/demo/meters?query=" + url.QueryEscape(`{"a":`), nil, "query: bad selector: invalid JSON"},
		{"GET", "/demo/meters?query=" + url.QueryEscape(`[1]`), nil, "want a JSON object"},
		{"GET", "/demo/meters?selector=" + url.QueryEscape(`{"$where":"1"}`), nil, "selector"},
		{"GET", "/demo/meters?sort=" + url.QueryEscape(`{"a":2}`), nil, "sort"},
		{"GET", "/demo/meters?fields=" + url.QueryEscape(`{"a":1,"b":0}`), nil, "fields"},
		{"GET", "/demo/meters?limit=0", nil, "limit"},
		{"GET", "/demo/meters?limit=10001", nil, "limit"},
		{"GET", "/demo/meters?skip=-1", nil, "skip"},
		{"POST", "/bulk/demo/meters", `{"data": {"a": 1}}`, "invalid body"},
		{"PUT", "/config/demo/x", `{"name": "y"}`, "differs"},
		{"POST", "/layers", `{"_id": "config"}`, "reserved"},
		{"POST", "/layers", `{"_id": "bad name"}`, "layer name"},
		{"POST", "/login", `{"user": "admin"}`, "password"},
	}
	e.must("POST", "/demo/meters", map[string]any{"_id": "x", "n": 1}, a)
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			e.t = t
			e.wantError(c.method, c.path, c.body, a, 400, c.msg)
		})
	}
}

func TestError401(t *testing.T) {
	e := newEnv(t)
	e.wantError("GET", "/demo/meters", nil, noCred, 401, "credentials required")
	e.wantError("GET", "/demo/meters", nil, cred{id: "admin", secret: "not-a-token"}, 401, "unauthorized")
	e.wantError("GET", "/demo/meters", nil, cred{id: "admin"}, 401, "both")
	e.wantError("GET", "/demo/meters", nil, cred{id: "nobody", secret: "x", query: true}, 401, "unauthorized")
	// A token belongs to one user.
	bob := e.addUser("bob", nil)
	e.wantError("GET", "/me", nil, cred{id: "admin", secret: bob.secret}, 401, "does not belong")
	e.wantError("POST", "/login", map[string]any{"user": "admin", "password": "wrong-password"}, noCred, 401, "wrong user or password")
	e.wantError("POST", "/login", map[string]any{"user": "ghost", "password": "whatever-pw"}, noCred, 401, "wrong user or password")
}

func TestError403(t *testing.T) {
	e := newEnv(t)
	reader := e.addUser("reader", map[string]Perm{"demo": PermRead})
	e.wantError("POST", "/demo/meters", map[string]any{"a": 1}, reader, 403, `may only read layer "demo"`)
	e.wantError("GET", "/other/meters", nil, reader, 403, `no grant on layer "other"`)
	e.wantError("GET", "/system/users", nil, reader, 403, "only admins")
	e.wantError("POST", "/layers", map[string]any{"_id": "x"}, reader, 403, "only admins")
	e.wantError("GET", "/users", nil, reader, 403, "only admins")
	e.wantError("PATCH", "/users/reader", map[string]any{"admin": true}, reader, 403, "only admins")
	e.wantError("DELETE", "/layers/system", nil, e.admin, 403, "managed by the hub")
}

func TestError404(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	e.wantError("GET", "/nolayer/meters", nil, a, 404, `layer "nolayer"`)
	e.wantError("GET", "/demo/nocol", nil, a, 404, `collection "nocol"`)
	e.wantError("GET", "/demo/meters/nodoc", nil, a, 404, `"nodoc"`)
	e.wantError("PATCH", "/demo/meters/nodoc", map[string]any{"a": 1}, a, 404, `"nodoc"`)
	e.wantError("DELETE", "/demo/meters/nodoc", nil, a, 404, `"nodoc"`)
	e.wantError("PATCH", "/demo/meters", map[string]any{"_id": "nodoc", "a": 1}, a, 404, "no item updated")
	e.wantError("POST", "/nolayer/meters", map[string]any{"a": 1}, a, 404, `layer "nolayer"`)
	e.wantError("GET", "/layers/nolayer", nil, a, 404, "nolayer")
	e.wantError("GET", "/users/ghost", nil, a, 404, "ghost")
	e.wantError("GET", "/a/b/c/d/e/f", nil, a, 404, "no such API path")
}

func TestError409(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	e.must("POST", "/demo/meters", map[string]any{"_id": "M1"}, a)
	e.wantError("POST", "/demo/meters", map[string]any{"_id": "M1"}, a, 409, "no item inserted")
	e.wantError("POST", "/demo/meters", []any{map[string]any{"_id": "M1"}}, a, 409, "no item inserted")
	e.wantError("POST", "/layers", map[string]any{"_id": "demo"}, a, 409, "exists")
	e.wantError("POST", "/users", map[string]any{"username": "admin", "password": "12345678"}, a, 409, "admin")
}

func TestError413(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Config.HTTP.MaxBodyBytes = 1024; s.Config.HTTP.MaxUploadBytes = 2048 })
	big := `{"_id":"big","pad":"` + strings.Repeat("x", 2000) + `"}`
	e.wantError("POST", "/demo/meters", big, e.admin, 413, "larger than 1024 bytes")
	code, body, _ := e.send(uploadReq(t, e, "/resources?fs=fs", "big.bin", strings.Repeat("y", 4096), e.admin))
	if code != 413 || !strings.Contains(string(body), "2048") {
		t.Fatalf("upload over the limit: %d %s", code, body)
	}
	// Under the upload limit but over the JSON limit: uploads have their own.
	code, body, _ = e.send(uploadReq(t, e, "/resources?fs=fs", "mid.bin", strings.Repeat("y", 1500), e.admin))
	if code != 201 {
		t.Fatalf("upload under the limit: %d %s", code, body)
	}
}

func TestError429(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Config.HTTP.RateLimit = RateLimitConfig{PerSecond: 0.001, Burst: 3} })
	app := e.addApp(map[string]Perm{"demo": PermRead}, true)
	for i := range 3 {
		if code, _ := e.do("GET", "/demo/meters", nil, app); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	code, body, hdr := e.send(e.request("GET", "/demo/meters", nil, app))
	if code != 429 || !strings.Contains(string(body), "rate limit") {
		t.Fatalf("4th request: %d %s", code, body)
	}
	if n, _ := strconv.Atoi(hdr.Get("Retry-After")); n < 1 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	// Per credential: another app is not limited by the first one's use.
	other := e.addApp(map[string]Perm{"demo": PermRead}, false)
	if code, _ := e.do("GET", "/demo/meters", nil, other); code != 200 {
		t.Fatalf("other credential: %d", code)
	}
	// The admin logged in before the limit applied to its own bucket.
	if code, _ := e.do("GET", "/demo/meters", nil, e.admin); code != 200 {
		t.Fatalf("admin: %d", code)
	}
}
