package daemon

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestDDPSharesTheRESTLoginThrottle: the hub wires one login throttle for
// REST and DDP, so that password guesses over REST lock the account out of
// DDP logins as well (hub/ddp tests the throttle in both directions).
func TestDDPSharesTheRESTLoginThrottle(t *testing.T) {
	h := startDDPHub(t)
	base := "http://" + h.HTTPAddr()
	locked := false
	for i := 0; i < 100 && !locked; i++ {
		code, _ := call(t, "POST", base+"/api/v2/login", map[string]any{"user": "admin", "password": "wrong"}, nil)
		locked = code == 429
	}
	if !locked {
		t.Fatal("REST logins never throttled")
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+h.HTTPAddr()+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() map[string]any {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	read() // server_id
	_ = ws.WriteJSON(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	read() // connected
	_ = ws.WriteJSON(map[string]any{"msg": "method", "id": "1", "method": "login",
		"params": []any{map[string]any{"user": map[string]any{"username": "admin"}, "password": ddpTestPassword}}})
	res := read()
	if e, _ := res["error"].(map[string]any); e == nil || e["error"] != 429.0 {
		t.Fatalf("DDP login with the right password after REST guesses: %v, want 429", res)
	}
}
