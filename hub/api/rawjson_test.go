package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gridedge/gridedge/hub/auth"
)

// A GET by id without projection sends the stored JSON (store.GetJSON):
// the body is the one success writes for the document Get returns, and
// public-only callers, the system layer and projections still get their
// filtered documents.
func TestGetByIDSendsStoredJSON(t *testing.T) {
	e := newEnv(t)
	doc := map[string]any{"_id": "m1", "name": "meter <1> & \"quoted\"", "n": 1.5e21, "tiny": 1e-7,
		"timestamp":    "2024-05-01T12:00:00.123+02:00",
		"measurements": map[string]any{"p": map[string]any{"value": 3.25, "quality": 1, "timestamp": "2024-05-01T10:00:00Z"}},
		"tags":         []any{"a", nil, true, map[string]any{}}, "secret": "s"}
	e.must("POST", "/demo/meters", doc, e.admin)
	stored, err := e.st.Get(context.Background(), "demo", "meters", "m1")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(envelope{Status: "success", Data: stored}); err != nil {
		t.Fatal(err)
	}
	status, body, hdr := e.send(e.request("GET", "/demo/meters/m1", nil, e.admin))
	if status != http.StatusOK || !bytes.Equal(body, want.Bytes()) {
		t.Errorf("GET: %d\n%s\nwant 200\n%s", status, body, want.Bytes())
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	// projection and public fields still apply
	_, got := e.do("GET", "/demo/meters/m1?fields=name", nil, e.admin)
	if data, _ := got["data"].(map[string]any); len(data) != 2 || data["name"] == nil {
		t.Errorf("GET with fields=name: %v, want _id and name", got)
	}
	e.must("PUT", "/config/demo/meters", map[string]any{"publicFields": []any{"name"}}, e.admin)
	reader := e.addUser("reader", map[string]auth.Perm{"demo": auth.Public})
	_, got = e.do("GET", "/demo/meters/m1", nil, reader)
	if data, _ := got["data"].(map[string]any); data["secret"] != nil || data["name"] == nil {
		t.Errorf("public-only GET: %v, want the public fields only", got)
	}
	// a missing document answers as before
	e.wantError("GET", "/demo/meters/nope", nil, e.admin, http.StatusNotFound, "nope")
}
