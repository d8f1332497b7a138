package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

// TestClusterDDPLiveDataAcrossHubs: the change feed travels on NATS, so two
// hub processes in one NATS cluster, sharing one MongoDB, serve the same
// live data. A DDP client subscribed on hub B sees added, changed and
// removed for a document written and deleted through REST on hub A.
func TestClusterDDPLiveDataAcrossHubs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test runs two hubs, MongoDB and VictoriaMetrics; skipped with -short")
	}
	mongoURI, kind := mongotest.URI(t)
	vm := victoriaMetrics(t)
	dir := t.TempDir()
	db := mongotest.DatabaseName()
	t.Logf("store: %s (%s), database %s; history: VictoriaMetrics at %s", mongoURI, kind, db, vm)

	nodes := startHubCluster(t, dir, 2, mongoURI, db, vm, `
ingest: {replicas: 1}
`)
	a, b := nodes[0], nodes[1]
	s := &stack{httpPort: a.httpPort}
	s.login(t)

	// a DDP client on hub B, logged in and subscribed to site_meters.all
	ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://127.0.0.1:%d/websocket", b.httpPort), nil)
	if err != nil {
		t.Fatalf("DDP connect to %s: %v", b.name, err)
	}
	defer ws.Close()
	// read returns the next data or result message, answering pings
	read := func(what string) map[string]any {
		t.Helper()
		for {
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			var m map[string]any
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatalf("DDP on %s, waiting for %s: %v", b.name, what, err)
			}
			switch m["msg"] {
			case "ping":
				_ = ws.WriteJSON(map[string]any{"msg": "pong"})
				continue
			case nil: // server_id
				continue
			}
			return m
		}
	}
	_ = ws.WriteJSON(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	if m := read("connected"); m["msg"] != "connected" {
		t.Fatalf("got %v, want connected", m)
	}
	_ = ws.WriteJSON(map[string]any{"msg": "method", "id": "1", "method": "login",
		"params": []any{map[string]any{"user": map[string]any{"username": "admin"}, "password": "e2e-admin-password"}}})
	if m := read("login result"); m["msg"] != "result" || m["error"] != nil {
		t.Fatalf("DDP login on %s: %v", b.name, m)
	}
	if m := read("updated"); m["msg"] != "updated" {
		t.Fatalf("got %v, want updated", m)
	}
	_ = ws.WriteJSON(map[string]any{"msg": "sub", "id": "s", "name": "site_meters.all"})
	if m := read("ready"); m["msg"] != "ready" {
		t.Fatalf("got %v, want ready", m)
	}

	rest := func(method, path string, body any) {
		t.Helper()
		rd := bytes.NewReader(nil)
		if body != nil {
			data, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(data)
		}
		req, err := http.NewRequest(method, a.url(path), rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range s.auth {
			req.Header.Set(k, v)
		}
		var resp map[string]any
		if code, err := doJSON(http.DefaultClient, req, &resp); err != nil || code != 200 {
			t.Fatalf("%s %s on %s: status %d, %v, %v", method, path, a.name, code, err, resp)
		}
	}
	expect := func(msg string, check func(m map[string]any) bool) {
		t.Helper()
		m := read(msg)
		if m["msg"] != msg || m["collection"] != "site_meters" || m["id"] != "X1" || !check(m) {
			t.Fatalf("DDP on %s after a REST write on %s: got %v, want %s of site_meters X1", b.name, a.name, m, msg)
		}
	}
	field := func(m map[string]any, name string) any {
		f, _ := m["fields"].(map[string]any)
		return f[name]
	}

	rest("POST", "/api/v2/site/meters", map[string]any{"_id": "X1", "name": "first"})
	expect("added", func(m map[string]any) bool { return field(m, "name") == "first" })
	rest("PATCH", "/api/v2/site/meters/X1", map[string]any{"name": "second"})
	expect("changed", func(m map[string]any) bool { return field(m, "name") == "second" })
	rest("DELETE", "/api/v2/site/meters/X1", nil)
	expect("removed", func(map[string]any) bool { return true })
}
