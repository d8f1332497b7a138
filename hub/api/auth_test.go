package api

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
)

// TestAuthMatrix checks every kind of principal against reads and writes.
func TestAuthMatrix(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// Public attributes of demo/meters: name and location.
	l, err := e.st.Layer(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	l.Config = map[string]any{"publicFields": map[string]any{"meters": []any{"name", "location"}}}
	if err := e.st.PutLayer(ctx, *l); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutLayer(ctx, store.Layer{ID: "other", Collections: []store.Collection{{Name: "x"}}}); err != nil {
		t.Fatal(err)
	}
	e.must("POST", "/demo/meters", map[string]any{"_id": "M1", "name": "meter 1", "location": map[string]any{"city": "Valencia"},
		"secret": 42, "timestamp": map[string]any{"$date": "2024-01-01T00:00:00Z"}}, e.admin)

	writer := e.addUser("writer", map[string]Perm{"demo": PermWrite})
	reader := e.addUser("reader", map[string]Perm{"demo": PermRead})
	public := e.addUser("public", map[string]Perm{"demo": PermPublic})
	nogrant := e.addUser("nogrant", nil)
	appHdr := e.addApp(map[string]Perm{"demo": PermRead}, false)
	appQuery := e.addApp(map[string]Perm{"demo": PermWrite}, true)

	type want struct{ read, write int }
	matrix := []struct {
		name string
		c    cred
		want want
	}{
		{"admin", e.admin, want{200, 200}},
		{"writer", writer, want{200, 200}},
		{"reader", reader, want{200, 403}},
		{"public", public, want{200, 403}},
		{"no grant", nogrant, want{403, 403}},
		{"app (headers)", appHdr, want{200, 403}},
		{"app (appId/keyId)", appQuery, want{200, 200}},
		{"anonymous", noCred, want{401, 401}},
	}
	for _, m := range matrix {
		t.Run(m.name, func(t *testing.T) {
			e.t = t
			if code, res := e.do("GET", "/demo/meters/M1", nil, m.c); code != m.want.read {
				t.Fatalf("read: %d %v, want %d", code, res, m.want.read)
			}
			if code, res := e.do("GET", "/demo/meters", nil, m.c); code != m.want.read {
				t.Fatalf("find: %d %v, want %d", code, res, m.want.read)
			}
			if code, res := e.do("PATCH", "/demo/meters/M1", map[string]any{"touched": m.name}, m.c); code != m.want.write {
				t.Fatalf("write: %d %v, want %d", code, res, m.want.write)
			}
			if code, res := e.do("POST", "/bulk/demo/meters", map[string]any{"data": []any{map[string]any{"_id": "M2"}}}, m.c); code != m.want.write {
				t.Fatalf("bulk: %d %v, want %d", code, res, m.want.write)
			}
			if code, _ := e.do("GET", "/other/x", nil, m.c); m.name != "admin" && code != 403 && code != 401 {
				t.Fatalf("ungranted layer: %d", code)
			}
		})
	}
	e.t = t

	// Public attributes only: other fields are stripped and may not be queried.
	res := e.must("GET", "/demo/meters/M1", nil, public)
	jsonEq(t, "public view", res["data"], map[string]any{"_id": "M1", "name": "meter 1", "location": map[string]any{"city": "Valencia"}})
	res = e.must("GET", "/demo/meters?query="+url.QueryEscape(`{"location.city":"Valencia"}`), nil, public)
	if len(res["data"].([]any)) != 1 {
		t.Fatalf("public query on a public field: %v", res)
	}
	e.wantError("GET", "/demo/meters?query="+url.QueryEscape(`{"$or":[{"name":"x"},{"secret":42}]}`), nil, public, 403, `"secret"`)
	e.wantError("GET", "/demo/meters?sort=-secret", nil, public, 403, `"secret"`)
	e.wantError("GET", "/demo/meters/M1/field/secret", nil, public, 403, "not a public attribute")
	e.wantError("GET", "/range/demo/meters?from=2023-01-01&to=2025-01-01", nil, public, 403, `"timestamp"`)
	res = e.must("GET", "/demo/meters/field/name", nil, public)
	jsonEq(t, "public field", res["data"], []any{map[string]any{"_id": "M1", "name": "meter 1"}, map[string]any{"_id": "M2"}})

	// Layer listing: each sees only granted layers; admins see all.
	if got := layerIDs(e.must("GET", "/layers", nil, reader)); strings.Join(got, ",") != "demo" {
		t.Fatalf("reader sees layers %v, want demo", got)
	}
	if got := layerIDs(e.must("GET", "/layers", nil, nogrant)); len(got) != 0 {
		t.Fatalf("nogrant sees layers %v", got)
	}
	if got := layerIDs(e.must("GET", "/layers", nil, e.admin)); strings.Join(got, ",") != "demo,other,system" {
		t.Fatalf("admin sees layers %v", got)
	}

	// Admins read the system layer, without secrets.
	res = e.must("GET", "/system/users", nil, e.admin)
	for _, u := range res["data"].([]any) {
		if _, ok := u.(map[string]any)["passwordHash"]; ok {
			t.Fatalf("password hash returned: %v", u)
		}
	}
	res = e.must("GET", "/system/apps", nil, e.admin)
	for _, a := range res["data"].([]any) {
		if _, ok := a.(map[string]any)["keyHash"]; ok {
			t.Fatalf("key hash returned: %v", a)
		}
	}
}

func layerIDs(res map[string]any) []string {
	var out []string
	for _, l := range res["data"].([]any) {
		out = append(out, l.(map[string]any)["_id"].(string))
	}
	return out
}

func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", map[string]Perm{"demo": PermRead})
	res := e.must("GET", "/me", nil, alice)
	if d := res["data"].(map[string]any); d["_id"] != "alice" || d["grants"].(map[string]any)["demo"] != "read" {
		t.Fatalf("me: %v", res)
	}

	// Renewal issues a new token and revokes the old one.
	res = e.must("POST", "/login/renew", nil, alice)
	renewed := cred{id: "alice", secret: res["data"].(map[string]any)["authToken"].(string)}
	e.wantError("GET", "/me", nil, alice, 401, "unauthorized")
	e.must("GET", "/me", nil, renewed)

	// Expiry (token TTL is 1h in tests).
	e.clock.Add(59 * time.Minute)
	e.must("GET", "/me", nil, renewed)
	e.clock.Add(2 * time.Minute)
	e.wantError("GET", "/me", nil, renewed, 401, "expired")

	// Logout revokes the token.
	c := e.login("alice", "alice-password")
	res = e.must("POST", "/logout", nil, c)
	jsonEq(t, "logout", res, map[string]any{"status": "success", "data": map[string]any{"message": "You've been logged out!"}})
	e.wantError("GET", "/me", nil, c, 401, "unauthorized")

	// A new password revokes every token of the user.
	c1, c2 := e.login("alice", "alice-password"), e.login("alice", "alice-password")
	e.must("PATCH", "/users/alice", map[string]any{"password": "a brand new password", "currentPassword": "alice-password"}, c1)
	e.wantError("GET", "/me", nil, c2, 401, "unauthorized")
	e.login("alice", "a brand new password")

	// Apps cannot log out or renew: they have no token.
	app := e.addApp(nil, false)
	e.wantError("POST", "/logout", nil, app, 403, "only users")
	e.wantError("POST", "/login/renew", nil, app, 403, "only users")
	res = e.must("GET", "/me", nil, app)
	if res["data"].(map[string]any)["kind"] != "app" {
		t.Fatalf("app me: %v", res)
	}
}

func TestUserAndAppAdmin(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	// Add a user without a password: one is generated and shown once.
	res := e.must("POST", "/users", map[string]any{"username": "bob", "email": "bob@x.test", "grants": map[string]any{"demo": "read"}}, a)
	d := res["data"].(map[string]any)
	pw, _ := d["password"].(string)
	if pw == "" || d["_id"] != "bob" || d["grants"].(map[string]any)["demo"] != "read" {
		t.Fatalf("add user: %v", res)
	}
	bob := e.login("bob@x.test", pw)
	e.wantError("POST", "/demo/meters", map[string]any{"a": 1}, bob, 403, "may only read")
	// Grant write (merge), then revoke.
	res = e.must("PATCH", "/users/bob", map[string]any{"grants": map[string]any{"demo": "write", "other": "public"}}, a)
	jsonEq(t, "grants", res["data"].(map[string]any)["grants"], map[string]any{"demo": "write", "other": "public"})
	e.must("POST", "/demo/meters", map[string]any{"a": 1}, bob)
	e.must("PATCH", "/users/bob", map[string]any{"grants": map[string]any{"demo": "none"}}, a)
	e.wantError("POST", "/demo/meters", map[string]any{"a": 1}, bob, 403, "no grant")
	e.wantError("PATCH", "/users/bob", map[string]any{"grants": map[string]any{"demo": "admin"}}, a, 400, "permission")

	// List: no hashes.
	res = e.must("GET", "/users", nil, a)
	if len(res["data"].([]any)) != 2 || strings.Contains(mustJSON(t, res), "Hash") {
		t.Fatalf("users: %v", res)
	}
	// Apps.
	res = e.must("POST", "/apps", map[string]any{"name": "grafana", "grants": map[string]any{"demo": "read"}}, a)
	d = res["data"].(map[string]any)
	app := cred{id: d["appId"].(string), secret: d["keyId"].(string), query: true}
	e.must("GET", "/demo/meters", nil, app)
	res = e.must("GET", "/apps", nil, a)
	if strings.Contains(mustJSON(t, res), app.secret) || strings.Contains(mustJSON(t, res), "keyHash") {
		t.Fatal("the key leaked in the app list")
	}
	e.must("DELETE", "/apps/"+app.id, nil, a)
	e.wantError("GET", "/demo/meters", nil, app, 401, "unauthorized")
	// Users.
	e.must("DELETE", "/users/bob", nil, a)
	e.wantError("GET", "/me", nil, bob, 401, "unauthorized")
	e.wantError("DELETE", "/users/admin", nil, a, 400, "cannot be deleted")
}

func TestLayerAdmin(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	res := e.must("POST", "/layers", map[string]any{"_id": "gridflex", "label": "GridFlex", "category": "energy",
		"collections": []any{map[string]any{"name": "generators", "geo": true}}}, a)
	if res["data"].(map[string]any)["_id"] != "gridflex" {
		t.Fatalf("create: %v", res)
	}
	e.must("POST", "/gridflex/generators", map[string]any{"_id": "TSO"}, a)
	res = e.must("PATCH", "/layers/gridflex", map[string]any{"label": "GridFlex pilot",
		"collections": []any{map[string]any{"name": "generators", "geo": true}, map[string]any{"name": "loads"}}}, a)
	if l := res["data"].(map[string]any); l["label"] != "GridFlex pilot" || len(l["collections"].([]any)) != 2 {
		t.Fatalf("patch: %v", res)
	}
	e.must("GET", "/gridflex/loads", nil, a)
	e.must("GET", "/layers/gridflex", nil, a)
	e.must("DELETE", "/layers/gridflex", nil, a)
	e.wantError("GET", "/gridflex/generators", nil, a, 404, "gridflex")
}

// TestAnonymousGrants: a deployment may let requests without credentials
// read chosen layers (auth.anonymous); writes still need credentials.
func TestAnonymousGrants(t *testing.T) {
	e := newEnv(t)
	e.must("POST", "/demo/meters", map[string]any{"_id": "M1", "name": "meter 1", "secret": 1}, e.admin)
	l, _ := e.st.Layer(t.Context(), "demo")
	l.Config = map[string]any{"publicFields": map[string]any{"meters": []any{"name"}}}
	if err := e.st.PutLayer(t.Context(), *l); err != nil {
		t.Fatal(err)
	}
	e.api.Auth = auth.New(e.st, auth.Options{Anonymous: map[string]Perm{"demo": PermPublic}})
	res := e.must("GET", "/demo/meters", nil, noCred)
	jsonEq(t, "anonymous view", res["data"], []any{map[string]any{"_id": "M1", "name": "meter 1"}})
	e.wantError("POST", "/demo/meters", map[string]any{"a": 1}, noCred, 401, "credentials required")
	e.wantError("GET", "/system/users", nil, noCred, 401, "credentials required")
	e.wantError("GET", "/me", nil, noCred, 401, "credentials required")
}
