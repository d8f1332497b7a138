package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// bodyRoutes are the routes whose JSON request body the fuzzer sends:
// documents to insert, replace and bulk-write, update operators, the
// login, user, app, layer and config bodies. Routes with side effects
// outside the hub (notify), multipart uploads and those that end the
// admin's session (logout, renew) are left out.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/demo/meters"},
	{"PATCH", "/demo/meters"},
	{"PATCH", "/demo/meters/a"},
	{"POST", "/bulk/demo/meters"},
	{"PUT", "/config/demo/meters"},
	{"POST", "/layers"},
	{"PATCH", "/layers/demo"},
	{"POST", "/users"},
	{"PATCH", "/users/fuzz"},
	{"POST", "/apps"},
	{"POST", "/login"},
	{"POST", "/gateway"},
}

// FuzzRESTBodies sends arbitrary JSON bodies to every route that decodes
// one: the answer is a JSON envelope with a 2xx, or a 4xx saying what was
// wrong, never a 5xx, a panic or a hang.
func FuzzRESTBodies(f *testing.F) {
	e := newEnv(f)
	e.must("POST", "/demo/meters", []any{map[string]any{"_id": "a", "n": 1, "m": map[string]any{"v": 2.5}}}, e.admin)
	e.must("POST", "/users", map[string]any{"username": "fuzz", "email": "fuzz@x.test", "password": "fuzz-password"}, e.admin)
	h := e.api.Handler()
	seeds := []string{
		`{"_id":"b","n":2,"timestamp":{"$date":"2024-05-01T10:00:00Z"},"measurements":{"p":{"value":1,"quality":1}}}`,
		`[{"_id":"c","n":3},{"_id":"d","tags":["x","y"]}]`,
		`{"$set":{"n":5,"m.v":3},"$inc":{"c":1},"$unset":{"x":""},"$push":{"tags":"z"}}`,
		`{"selector":{"n":{"$gt":0}},"update":{"$set":{"k":1}}}`,
		`{"insert":[{"_id":"e"}],"update":[{"_id":"a","n":9}]}`,
		`{"publicFields":["name","n"]}`,
		`{"_id":"grid","label":"Grid","collections":[{"name":"meters"}]}`,
		`{"username":"u1","email":"u1@x.test","password":"u1-password","grants":{"demo":"read"}}`,
		`{"password":"new-password-1","currentPassword":"fuzz-password"}`,
		`{"name":"grafana","password":"app-password","grants":{"demo":"read"}}`,
		`{"user":"admin","password":"wrong"}`,
		`{"subject":"metrics.get","natsCredentials":"tool:secret"}`,
		`{"$date":"x"}`, `{"$oid":1}`, `[[[[[]]]]]`, `{"a":{"$regex":"("}}`, `null`, `"s"`, `1e400`, "{", "",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		req := httptest.NewRequest(rt.method, Prefix+rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User-ID", e.admin.id)
		req.Header.Set("X-Auth-Token", e.admin.secret)
		rec := httptest.NewRecorder()
		watchdog := time.AfterFunc(5*time.Second, func() { panic(fmt.Sprintf("%s %s hung on %q", rt.method, rt.path, body)) })
		h.ServeHTTP(rec, req)
		watchdog.Stop()
		var env map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %s %q: answer is not a JSON object: %d %q", rt.method, rt.path, body, rec.Code, rec.Body.String())
		}
		switch {
		case rec.Code >= 200 && rec.Code < 300:
		case rec.Code >= 400 && rec.Code < 500,
			// the test hub has no NATS: a valid gateway request ends there
			rt.path == "/gateway" && rec.Code == 503:
			if env["status"] != "error" || env["message"] == "" {
				t.Fatalf("%s %s %q: %d without an error message: %v", rt.method, rt.path, body, rec.Code, env)
			}
		default:
			t.Fatalf("%s %s %q: got status %d %v, want 2xx or 4xx", rt.method, rt.path, body, rec.Code, env)
		}
	})
}
