package ddp

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gridedge/gridedge/hub/store"
)

func TestHandshakeAndTopLevelErrors(t *testing.T) {
	e := newEnv(t, Limits{})
	tests := []struct {
		name    string
		connect bool     // complete the handshake first
		send    string   // raw frame
		want    []string // key=value pairs expected in the answer
	}{
		{"message before connect", false, `{"msg":"sub","id":"1","name":"x"}`, []string{"msg=error", "reason=Must connect first", "offendingMessage.msg=sub"}},
		{"bad json", true, `{"msg":`, []string{"msg=error", "reason=Parse error"}},
		{"not an object", true, `[1,2]`, []string{"msg=error", "reason=Parse error"}},
		{"unknown msg", true, `{"msg":"dance"}`, []string{"msg=error", `reason=Bad request: unknown msg "dance"`, "offendingMessage.msg=dance"}},
		{"sub without id", true, `{"msg":"sub","name":"demo_meters.all"}`, []string{"msg=error", "reason=Bad request: id is missing"}},
		{"params not an array", true, `{"msg":"method","id":"1","method":"findAll","params":{}}`, []string{"msg=error", "reason=Bad request: params must be an array"}},
		{"second connect", true, `{"msg":"connect","version":"1"}`, []string{"msg=error", "reason=Already connected"}},
		{"ping with id", true, `{"msg":"ping","id":"p1"}`, []string{"msg=pong", "id=p1"}},
		{"ping without id", true, `{"msg":"ping"}`, []string{"msg=pong"}},
		{"unsupported version", false, `{"msg":"connect","version":"0.9","support":["0.9"]}`, []string{"msg=failed", "version=1"}},
		{"pre2", false, `{"msg":"connect","version":"pre2","support":["pre2"]}`, []string{"msg=connected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *client
			if tt.connect {
				c = e.connected()
			} else {
				c = e.dial("/websocket")
			}
			c.t = t
			c.sendRaw(tt.send)
			got := c.read()
			for _, kv := range tt.want {
				k, want, _ := strings.Cut(kv, "=")
				var v any = got
				for p := range strings.SplitSeq(k, ".") {
					m, _ := v.(map[string]any)
					v = m[p]
				}
				if s, _ := v.(string); s != want {
					t.Errorf("%s = %v, want %q (message %v)", k, v, want, got)
				}
			}
			if tt.connect {
				// A malformed message closes nothing: the session still answers.
				c.sendRaw(`{"msg":"ping","id":"after"}`)
				if m := c.read(); m["msg"] != "pong" || m["id"] != "after" {
					t.Errorf("after the bad message: got %v, want pong", m)
				}
			}
		})
	}
}

func insert(t *testing.T, st store.Store, col string, docs ...store.Document) {
	t.Helper()
	res, err := st.Insert(context.Background(), "demo", col, docs)
	if err != nil || res.Err > 0 {
		t.Fatalf("insert: %v %v", err, res.Errors)
	}
}

func TestSubscriptionLiveFromChangeFeed(t *testing.T) {
	e := newEnv(t, Limits{})
	insert(t, e.ws, "meters", store.Document{"_id": "M1", "name": "one", "power": 1.0}, store.Document{"_id": "M2", "name": "two", "power": 2.0})
	c := e.connected()
	c.login("alice", "alice-password")
	msgs := c.sub("s1", "demo_meters.all")
	if got, want := kinds(msgs), "added:M1 added:M2 ready"; got != want && kinds(msgs) != "added:M2 added:M1 ready" {
		t.Fatalf("initial: got %q, want %q", got, want)
	}
	ctx := context.Background()
	steps := []struct {
		name  string
		write func() error
		want  map[string]any // expected message, compared on its keys
	}{
		{"update", func() error {
			_, err := e.ws.UpdateByID(ctx, "demo", "meters", "M1", map[string]any{"power": 5.0})
			return err
		}, map[string]any{"msg": "changed", "id": "M1", "fields": map[string]any{"power": 5.0}}},
		{"unset", func() error {
			_, err := e.ws.UpdateByID(ctx, "demo", "meters", "M1", map[string]any{"$unset": map[string]any{"power": ""}})
			return err
		}, map[string]any{"msg": "changed", "id": "M1", "cleared": []any{"power"}}},
		{"insert", func() error {
			_, err := e.ws.Insert(ctx, "demo", "meters", []store.Document{{"_id": "M3", "name": "three"}})
			return err
		}, map[string]any{"msg": "added", "id": "M3"}},
		{"delete", func() error { return e.ws.DeleteByID(ctx, "demo", "meters", "M2") },
			map[string]any{"msg": "removed", "id": "M2"}},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := c.read()
		for k, want := range s.want {
			g := got[k]
			if k == "fields" {
				// _updated changes with every write; compare the named fields.
				gm, _ := g.(map[string]any)
				for fk, fv := range want.(map[string]any) {
					if gm[fk] != fv {
						t.Errorf("%s: fields.%s = %v, want %v (%v)", s.name, fk, gm[fk], fv, got)
					}
				}
				continue
			}
			if !reflect.DeepEqual(g, want) {
				t.Errorf("%s: %s = %v, want %v (%v)", s.name, k, g, want, got)
			}
		}
		if got["collection"] != "demo_meters" {
			t.Errorf("%s: collection = %v, want demo_meters", s.name, got["collection"])
		}
	}
	c.send(map[string]any{"msg": "unsub", "id": "s1"})
	msgs = c.until(func(m map[string]any) bool { return m["msg"] == "nosub" })
	if got := kinds(msgs); got != "removed:M1 removed:M3 nosub" && got != "removed:M3 removed:M1 nosub" {
		t.Errorf("unsub: got %q, want removed M1, M3 then nosub", got)
	}
}

func TestMergeBoxOverlappingSubscriptions(t *testing.T) {
	e := newEnv(t, Limits{})
	insert(t, e.ws, "meters", store.Document{"_id": "M1", "name": "one", "power": 1.0, "site": "a"})
	c := e.connected()
	c.login("alice", "alice-password")
	msgs := c.sub("names", "demo_meters.find", map[string]any{}, map[string]any{"fields": map[string]any{"name": 1}})
	if got := kinds(msgs); got != "added:M1 ready" {
		t.Fatalf("first sub: got %q", got)
	}
	if f := msgs[0]["fields"].(map[string]any); len(f) != 1 || f["name"] != "one" {
		t.Errorf("first sub fields = %v, want only name", f)
	}
	// The second subscription adds fields: one changed with the new ones only.
	msgs = c.sub("all", "demo_meters.all")
	if got := kinds(msgs); got != "changed:M1 ready" {
		t.Fatalf("second sub: got %q, want changed:M1 ready", got)
	}
	f := msgs[0]["fields"].(map[string]any)
	if _, has := f["name"]; has || f["power"] != 1.0 || f["site"] != "a" {
		t.Errorf("second sub changed fields = %v, want power and site, not name", f)
	}
	// A write to a field only the second one publishes; then one the first
	// one publishes too: each a single changed.
	if _, err := e.ws.UpdateByID(context.Background(), "demo", "meters", "M1", map[string]any{"name": "uno"}); err != nil {
		t.Fatal(err)
	}
	m := c.read()
	if m["msg"] != "changed" || m["fields"].(map[string]any)["name"] != "uno" {
		t.Errorf("update: got %v, want changed name=uno", m)
	}
	// Dropping the wide subscription clears its fields; the document stays.
	c.send(map[string]any{"msg": "unsub", "id": "all"})
	msgs = c.until(func(m map[string]any) bool { return m["msg"] == "nosub" })
	if got := kinds(msgs); got != "changed:M1 nosub" {
		t.Fatalf("unsub all: got %q, want changed:M1 nosub", got)
	}
	cleared := msgs[0]["cleared"].([]any)
	want := map[string]bool{"power": true, "site": true, "_updated": true, "_expired": true}
	for _, k := range cleared {
		if !want[k.(string)] {
			t.Errorf("cleared %v: %v is not a field only the wide subscription published", cleared, k)
		}
	}
	if _, has := msgs[0]["fields"]; has {
		t.Errorf("changed on unsub carries fields %v; want cleared only", msgs[0]["fields"])
	}
	// A duplicate sub id is ignored; an unknown publication is nosub 404.
	c.send(map[string]any{"msg": "sub", "id": "names", "name": "demo_meters.all", "params": []any{}})
	msgs = c.sub("x", "nope")
	if got := kinds(msgs); got != "nosub" {
		t.Fatalf("unknown publication: got %q, want only nosub (the duplicate sends nothing)", got)
	}
	if code := msgs[0]["error"].(map[string]any)["error"]; code != 404.0 {
		t.Errorf("unknown publication error = %v, want 404", code)
	}
}

func TestPermissionsAndPublicFields(t *testing.T) {
	e := newEnv(t, Limits{})
	insert(t, e.ws, "meters", store.Document{"_id": "M1", "name": "one", "power": 1.0})
	tests := []struct {
		name     string
		user     string
		pub      string
		params   []any
		wantKind string
		wantErr  float64
		wantKeys []string
	}{
		{"anonymous", "", "demo_meters.all", nil, "nosub", 401, nil},
		{"public user sees public fields", "pub", "demo_meters.all", nil, "added:M1 ready", 0, []string{"name"}},
		{"public user selects on a private field", "pub", "demo_meters.find", []any{map[string]any{"power": 1}}, "nosub", 403, nil},
		{"public user sorts on a private field", "pub", "demo_meters.find", []any{map[string]any{}, map[string]any{"sort": map[string]any{"power": 1}}}, "nosub", 403, nil},
		{"public user selects on a public field", "pub", "demo_meters.find", []any{map[string]any{"name": "one"}}, "added:M1 ready", 0, []string{"name"}},
		{"writer", "alice", "demo_meters.find", []any{map[string]any{"power": map[string]any{"$gt": 0}}}, "added:M1 ready", 0, []string{"_expired", "_updated", "name", "power"}},
		{"system layer for a user", "alice", "system_users.all", nil, "nosub", 403, nil},
		{"missing collection", "alice", "demo_nothing.all", nil, "nosub", 404, nil},
		{"bad option", "alice", "demo_meters.find", []any{map[string]any{}, map[string]any{"limt": 1}}, "nosub", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.connected()
			c.t = t
			if tt.user != "" {
				c.login(tt.user, tt.user+"-password")
			}
			msgs := c.sub("s", tt.pub, tt.params...)
			if got := kinds(msgs); got != tt.wantKind {
				t.Fatalf("got %q, want %q (%v)", got, tt.wantKind, msgs)
			}
			if tt.wantErr != 0 {
				if code := msgs[0]["error"].(map[string]any)["error"]; code != tt.wantErr {
					t.Errorf("error = %v, want %v", msgs[0]["error"], tt.wantErr)
				}
				return
			}
			var keys []string
			for k := range msgs[0]["fields"].(map[string]any) {
				keys = append(keys, k)
			}
			if strings.Join(sorted(keys), ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("fields %v, want %v", keys, tt.wantKeys)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestUserChangeSendsOnlyTheDifference(t *testing.T) {
	e := newEnv(t, Limits{})
	insert(t, e.ws, "meters", store.Document{"_id": "M1", "name": "one", "power": 1.0})
	c := e.connected()
	c.login("pub", "pub-password")
	if got := kinds(c.sub("s", "demo_meters.all")); got != "added:M1 ready" {
		t.Fatalf("sub: %q", got)
	}
	msgs, r := c.call("l", "login", map[string]any{"user": map[string]any{"email": "alice@example.org"},
		"password": map[string]any{"digest": digestHex("alice-password"), "algorithm": "sha-256"}})
	if r["error"] != nil {
		t.Fatalf("digest login: %v", r["error"])
	}
	if got := kinds(msgs); got != "changed:M1 result updated" {
		t.Fatalf("login as alice: got %q, want changed:M1 result updated", got)
	}
	if f := msgs[0]["fields"].(map[string]any); f["power"] != 1.0 || f["name"] != nil {
		t.Errorf("changed fields %v: want the newly visible ones only", f)
	}
	token := r["result"].(map[string]any)["token"].(string)
	// Logout: the subscription is refused as anonymous and its documents go.
	msgs, _ = c.call("o", "logout")
	if got := kinds(msgs); got != "removed:M1 nosub result updated" {
		t.Errorf("logout: got %q", got)
	}
	// The token was revoked.
	_, r = c.call("r", "login", map[string]any{"resume": token})
	if code := r["error"].(map[string]any)["error"]; code != 403.0 {
		t.Errorf("resume after logout: %v, want 403", r["error"])
	}
}

func TestMethods(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.connected()
	login := c.login("alice", "alice-password")
	if login["id"] != "alice" || login["type"] != "password" || login["tokenExpires"].(map[string]any)["$date"] == nil {
		t.Fatalf("login result %v", login)
	}
	c.sub("s", "demo_meters.all")
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		method string
		params []any
		// wantKinds are the message kinds up to updated.
		wantKinds string
		check     func(t *testing.T, result any)
		wantErr   float64
	}{
		{"insert one", "insert", []any{"demo_meters", map[string]any{"_id": "A", "name": "a", "t": map[string]any{"$date": float64(when.UnixMilli())}}},
			"added:A result updated", func(t *testing.T, r any) {
				m := r.(map[string]any)
				if m["ok"] != 1.0 || !reflect.DeepEqual(m["insertedIds"], []any{"A"}) {
					t.Errorf("result %v", m)
				}
			}, 0},
		{"insert many", "insert", []any{"demo_meters", []any{map[string]any{"_id": "B"}, map[string]any{"_id": "A"}}},
			"added:B result updated", func(t *testing.T, r any) {
				m := r.(map[string]any)
				if m["ok"] != 1.0 || m["err"] != 1.0 || !reflect.DeepEqual(m["errorIds"], []any{"A"}) {
					t.Errorf("result %v", m)
				}
			}, 0},
		{"update", "update", []any{"demo_meters", map[string]any{"_id": "A", "name": "aa"}},
			"changed:A result updated", nil, 0},
		{"findOne", "findOne", []any{"demo_meters", "A"}, "result updated", func(t *testing.T, r any) {
			m := r.(map[string]any)
			if m["name"] != "aa" || !reflect.DeepEqual(m["t"], map[string]any{"$date": float64(when.UnixMilli())}) {
				t.Errorf("result %v", m)
			}
		}, 0},
		{"findOne missing", "findOne", []any{"demo_meters", "Z"}, "result updated", func(t *testing.T, r any) {
			if r != nil {
				t.Errorf("result %v, want none", r)
			}
		}, 0},
		{"findAll", "findAll", []any{"demo_meters", map[string]any{"name": "aa"}}, "result updated", func(t *testing.T, r any) {
			if a := r.([]any); len(a) != 1 || a[0].(map[string]any)["_id"] != "A" {
				t.Errorf("result %v", r)
			}
		}, 0},
		{"remove", "remove", []any{"demo_meters", map[string]any{"_id": "B"}}, "removed:B result updated", func(t *testing.T, r any) {
			if m := r.(map[string]any); !reflect.DeepEqual(m["deletedIds"], []any{"B"}) {
				t.Errorf("result %v", m)
			}
		}, 0},
		{"remove without selector", "remove", []any{"demo_meters"}, "result updated", nil, 400},
		{"bad collection", "findAll", []any{"meters"}, "result updated", nil, 400},
		{"system write", "insert", []any{"system_users", map[string]any{"_id": "x"}}, "result updated", nil, 403},
		{"unknown method", "explode", nil, "result updated", nil, 404},
		{"renewToken", "renewToken", nil, "result updated", func(t *testing.T, r any) {
			if m := r.(map[string]any); m["token"] == login["token"] || m["id"] != "alice" {
				t.Errorf("result %v", m)
			}
		}, 0},
		{"isLogged", "isLogged", nil, "result updated", func(t *testing.T, r any) {
			if r != true {
				t.Errorf("result %v", r)
			}
		}, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			msgs, r := c.call(string(rune('a'+i)), tt.method, tt.params...)
			if got := kinds(msgs); got != tt.wantKinds {
				t.Errorf("messages %q, want %q", got, tt.wantKinds)
			}
			if tt.wantErr != 0 {
				e, _ := r["error"].(map[string]any)
				if e["error"] != tt.wantErr || e["errorType"] != "Meteor.Error" || e["reason"] == "" || e["message"] == "" {
					t.Errorf("error %v, want a Meteor.Error %v", r["error"], tt.wantErr)
				}
				return
			}
			if r["error"] != nil {
				t.Fatalf("error %v", r["error"])
			}
			if tt.check != nil {
				tt.check(t, r["result"])
			}
		})
	}
}

func TestLoginFailuresAreAmbiguous(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.connected()
	for _, p := range []map[string]any{
		{"user": map[string]any{"username": "alice"}, "password": "wrong"},
		{"user": map[string]any{"username": "nobody"}, "password": "wrong"},
		{"user": map[string]any{"username": "alice"}, "password": map[string]any{"digest": digestHex("wrong"), "algorithm": "sha-256"}},
		{"resume": "not-a-token"},
	} {
		_, r := c.call("x", "login", p)
		if e := r["error"].(map[string]any); e["error"] != 403.0 || e["reason"] != errLogin.Reason {
			t.Errorf("login %v: %v, want the one 403", p, e)
		}
	}
	_, r := c.call("y", "loginApp", "nope", "nope")
	if e := r["error"].(map[string]any); e["error"] != 403.0 {
		t.Errorf("loginApp: %v, want 403", e)
	}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, Limits{PingInterval: 100 * time.Millisecond, PongTimeout: 150 * time.Millisecond})
	c := e.connected()
	_ = c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil || string(data) != `{"msg":"ping"}` {
		t.Fatalf("got %q %v, want a server ping", data, err)
	}
	// Silence after the ping: the server closes.
	start := time.Now()
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			break
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("closed after %v, want about 150ms", d)
	}
	// A client that answers stays: over several ping intervals it gets
	// pings and no close.
	c = e.connected()
	pings := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("answering client: %v after %d pings", err, pings)
		}
		if string(data) == `{"msg":"ping"}` {
			pings++
			c.sendRaw(`{"msg":"pong"}`)
		}
	}
	if pings < 3 {
		t.Errorf("got %d pings in 1s, want one per silent 100ms", pings)
	}
}

func TestSockJS(t *testing.T) {
	e := newEnv(t, Limits{})
	resp, err := http.Get(e.http.URL + "/sockjs/info")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["websocket"] != true {
		t.Fatalf("info %v", info)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.http.URL, "http")+"/sockjs/123/abcdef/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() string {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, d, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(d)
	}
	if f := read(); f != "o" {
		t.Fatalf("open frame %q, want o", f)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["{\"msg\":\"connect\",\"version\":\"1\",\"support\":[\"1\"]}","{\"msg\":\"ping\",\"id\":\"7\"}"]`))
	var all []string
	for len(all) < 3 {
		f := read()
		if !strings.HasPrefix(f, "a[") {
			t.Fatalf("frame %q, want a[...]", f)
		}
		var msgs []string
		if err := json.Unmarshal([]byte(f[1:]), &msgs); err != nil {
			t.Fatalf("frame %q: %v", f, err)
		}
		all = append(all, msgs...)
	}
	if !strings.Contains(all[0], "server_id") || !strings.Contains(all[1], `"connected"`) || all[2] != `{"msg":"pong","id":"7"}` {
		t.Errorf("messages %q", all)
	}
}

func TestSlowConsumerIsCut(t *testing.T) {
	e := newEnv(t, Limits{MaxQueueBytes: 64 << 10})
	insert(t, e.ws, "meters", store.Document{"_id": "M1", "name": "one"})
	// A small receive buffer, so that the kernel does not absorb megabytes
	// for the client that stops reading.
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	sws, _, err := d.Dial("ws"+strings.TrimPrefix(e.http.URL, "http")+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sws.Close()
	slow := &client{t: t, ws: sws}
	slow.read()
	slow.send(map[string]any{"msg": "connect", "version": "1"})
	slow.read()
	slow.login("alice", "alice-password")
	slow.sub("s", "demo_meters.all")
	fast := e.connected()
	fast.login("alice", "alice-password")
	fast.sub("s", "demo_meters.all")
	// slow stops reading; its socket buffers fill and then its queue.
	big := strings.Repeat("x", 16<<10)
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; e.srv.stats.cut.Load() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the slow client was never cut")
		}
		if _, err := e.ws.UpdateByID(ctx, "demo", "meters", "M1", map[string]any{"name": big + string(rune('a'+i%26))}); err != nil {
			t.Fatal(err)
		}
		if m := fast.read(); m["msg"] != "changed" {
			t.Fatalf("fast client: got %v", m)
		}
	}
	if _, err := e.ws.UpdateByID(ctx, "demo", "meters", "M1", map[string]any{"name": "last"}); err != nil {
		t.Fatal(err)
	}
	if m := fast.read(); m["msg"] != "changed" || m["fields"].(map[string]any)["name"] != "last" {
		t.Errorf("fast client after the cut: %v", m)
	}
}

func TestTwoServersShareTheChangeFeed(t *testing.T) {
	e := newEnv(t, Limits{})
	other := e.newServer(Limits{})
	h := httptestServer(t, other)
	watcher := dialURL(t, "ws"+strings.TrimPrefix(h, "http")+"/websocket")
	watcher.send(map[string]any{"msg": "connect", "version": "1"})
	watcher.read()
	watcher.login("alice", "alice-password")
	watcher.sub("s", "demo_meters.all")
	writer := e.connected()
	writer.login("alice", "alice-password")
	_, r := writer.call("w", "insert", "demo_meters", map[string]any{"_id": "X", "name": "from the other replica"})
	if r["error"] != nil {
		t.Fatal(r["error"])
	}
	if m := watcher.read(); m["msg"] != "added" || m["id"] != "X" {
		t.Errorf("other server's client: got %v, want added X", m)
	}
}

func digestHex(pw string) string {
	return authDigest(pw)
}
