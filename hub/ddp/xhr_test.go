package ddp

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// xhrClient speaks SockJS's HTTP transports as sockjs-client does.
type xhrClient struct {
	t    *testing.T
	base string // .../sockjs/<server>/<session>
}

func (x *xhrClient) post(transport, body string) (int, string, http.Header) {
	x.t.Helper()
	resp, err := http.Post(x.base+"/"+transport, "text/plain", strings.NewReader(body))
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// send posts DDP messages through xhr_send.
func (x *xhrClient) send(msgs ...map[string]any) {
	x.t.Helper()
	arr := make([]string, len(msgs))
	for i, m := range msgs {
		b, _ := json.Marshal(m)
		arr[i] = string(b)
	}
	body, _ := json.Marshal(arr)
	if code, text, _ := x.post("xhr_send", string(body)); code != http.StatusNoContent {
		x.t.Fatalf("xhr_send: %d %q, want 204", code, text)
	}
}

// decodeFrame returns the DDP messages of an a[...] frame.
func decodeFrame(t *testing.T, frame string) []map[string]any {
	t.Helper()
	if !strings.HasPrefix(frame, "a") {
		return nil
	}
	var arr []string
	if err := json.Unmarshal([]byte(frame[1:]), &arr); err != nil {
		t.Fatalf("frame %q: %v", frame, err)
	}
	out := make([]map[string]any, len(arr))
	for i, s := range arr {
		if err := json.Unmarshal([]byte(s), &out[i]); err != nil {
			t.Fatalf("message %q: %v", s, err)
		}
	}
	return out
}

// pollUntil polls until a message satisfies stop and returns all messages.
func (x *xhrClient) pollUntil(stop func(map[string]any) bool) []map[string]any {
	x.t.Helper()
	var all []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		code, body, h := x.post("xhr", "")
		if code != http.StatusOK || !strings.HasSuffix(body, "\n") {
			x.t.Fatalf("xhr poll: %d %q", code, body)
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/javascript") {
			x.t.Fatalf("xhr poll Content-Type %q", ct)
		}
		if strings.HasPrefix(body, "c[") {
			x.t.Fatalf("session closed: %q", body)
		}
		for _, m := range decodeFrame(x.t, strings.TrimSuffix(body, "\n")) {
			all = append(all, m)
			if stop(m) {
				return all
			}
		}
	}
	x.t.Fatalf("no matching message in %v", all)
	return nil
}

func msgIs(kind string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["msg"] == kind }
}

// TestSockJSXHRPolling: a session over xhr-polling and xhr_send: o, the
// handshake, login, a subscription that receives a change, one receiving
// request at a time, SockJS's answers to bad sends, CORS.
func TestSockJSXHRPolling(t *testing.T) {
	e := newEnv(t, Limits{})
	x := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/poll1"}
	if code, body, h := x.post("xhr", ""); code != 200 || body != "o\n" {
		t.Fatalf("first poll: %d %q, want o", code, body)
	} else if h.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("no CORS header on xhr")
	}
	x.send(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	x.pollUntil(msgIs("connected"))
	x.send(map[string]any{"msg": "method", "id": "1", "method": "login",
		"params": []any{map[string]any{"user": map[string]any{"username": "alice"}, "password": "alice-password"}}},
		map[string]any{"msg": "sub", "id": "s", "name": "demo_meters.all"})
	x.pollUntil(msgIs("ready"))
	if _, err := e.ws.Insert(context.Background(), "demo", "meters", []store.Document{{"_id": "X1", "name": "n"}}); err != nil {
		t.Fatal(err)
	}
	got := x.pollUntil(msgIs("added"))
	if m := got[len(got)-1]; m["id"] != "X1" || m["collection"] != "demo_meters" {
		t.Fatalf("added: %v", m)
	}

	// A second receiving request while one waits: 2010.
	waiting := make(chan string, 1)
	go func() {
		resp, err := http.Post(x.base+"/xhr", "text/plain", nil)
		if err != nil {
			waiting <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		waiting <- string(b)
	}()
	e.srv.xhrMu.Lock()
	sess := e.srv.xhr["poll1"]
	e.srv.xhrMu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for attached := false; !attached; {
		sess.mu.Lock()
		attached = sess.receiving
		sess.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the first poll never attached")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, body, _ := x.post("xhr", ""); body != `c[2010,"Another connection still open"]`+"\n" {
		t.Fatalf("a second poll got %q, want c[2010,…]", body)
	}
	x.send(map[string]any{"msg": "ping", "id": "p"})
	if body := <-waiting; !strings.Contains(body, `pong`) {
		t.Fatalf("the waiting poll got %q, want the pong", body)
	}

	for _, tt := range []struct {
		name, body string
		code       int
		text       string
	}{
		{"empty", "", 500, "Payload expected."},
		{"broken", "[\"x", 500, "Broken JSON encoding."},
	} {
		if code, text, _ := x.post("xhr_send", tt.body); code != tt.code || !strings.Contains(text, tt.text) {
			t.Errorf("xhr_send %s: %d %q, want %d %q", tt.name, code, text, tt.code, tt.text)
		}
	}
	other := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/nosuchsession"}
	if code, _, _ := other.post("xhr_send", `["x"]`); code != 404 {
		t.Errorf("xhr_send to an unknown session: %d, want 404", code)
	}
	dotted := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/a.b"}
	if code, _, _ := dotted.post("xhr", ""); code != 404 {
		t.Errorf("session id with a dot: %d, want 404", code)
	}
	req, _ := http.NewRequest(http.MethodOptions, x.base+"/xhr_send", nil)
	req.Header.Set("Origin", "https://dash.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestSockJSXHRStreaming: the prelude, o, frames on one response, and the
// session's end (c[3000,…] to the stream, then to later requests).
func TestSockJSXHRStreaming(t *testing.T) {
	e := newEnv(t, Limits{})
	x := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/stream1"}
	resp, err := http.Post(x.base+"/xhr_streaming", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line := func() string {
		t.Helper()
		s, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream: %v (got %q)", err, s)
		}
		return strings.TrimSuffix(s, "\n")
	}
	if p := line(); p != strings.Repeat("h", 2048) {
		t.Fatalf("prelude: %d bytes %.10q", len(p), p)
	}
	if o := line(); o != "o" {
		t.Fatalf("open frame %q", o)
	}
	x.send(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	var msgs []map[string]any
	for !func() bool {
		for _, m := range msgs {
			if m["msg"] == "connected" {
				return true
			}
		}
		return false
	}() {
		msgs = append(msgs, decodeFrame(t, line())...)
	}
	// A version we do not speak: failed, then the session closes.
	x2 := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/stream2"}
	if _, body, _ := x2.post("xhr", ""); body != "o\n" {
		t.Fatalf("open: %q", body)
	}
	x2.send(map[string]any{"msg": "connect", "version": "99", "support": []string{"99"}})
	var closed bool
	for i := 0; i < 5 && !closed; i++ {
		_, body, _ := x2.post("xhr", "")
		closed = body == `c[3000,"Go away!"]`+"\n"
	}
	if !closed {
		t.Fatal("the session did not close after failed")
	}
	if _, body, _ := x2.post("xhr", ""); body != `c[3000,"Go away!"]`+"\n" {
		t.Fatalf("poll of an ended session: %q, want c[3000,…]", body)
	}
}

// TestSockJSXHRSessionTimeout: a session nobody polls is closed after the
// disconnect delay, and forgotten after another.
func TestSockJSXHRSessionTimeout(t *testing.T) {
	e := newEnv(t, Limits{DisconnectDelay: 100 * time.Millisecond})
	x := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/idle"}
	if _, body, _ := x.post("xhr", ""); body != "o\n" {
		t.Fatalf("open: %q", body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		open, _ := e.srv.Sessions()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle session was not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		e.srv.xhrMu.Lock()
		n := len(e.srv.xhr)
		e.srv.xhrMu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended session was not forgotten")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSockJSXHRSessionCap: sessions that hold no connection between
// requests are capped; a new one beyond the cap gets 503.
func TestSockJSXHRSessionCap(t *testing.T) {
	e := newEnv(t, Limits{MaxHTTPSessions: 3})
	for i := range 3 {
		x := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/cap" + string(rune('a'+i))}
		if code, body, _ := x.post("xhr", ""); code != 200 || body != "o\n" {
			t.Fatalf("session %d: %d %q", i, code, body)
		}
	}
	x := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/capz"}
	if code, _, h := x.post("xhr", ""); code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("a session beyond the cap: %d %v, want 503 with Retry-After", code, h)
	}
	// An existing session is still served.
	old := &xhrClient{t: t, base: e.http.URL + "/sockjs/000/capa"}
	old.send(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	old.pollUntil(msgIs("connected"))
}
