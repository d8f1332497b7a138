package natsrpc

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// connect starts an in-process NATS server with the given maximum payload
// and returns two connections to it.
func connect(t *testing.T, maxPayload int32) (*nats.Conn, *nats.Conn) {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	var ncs [2]*nats.Conn
	for i := range ncs {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		ncs[i] = nc
	}
	return ncs[0], ncs[1]
}

type echo struct {
	Name string `json:"name"`
}

// TestServe: the envelope of a success and of an error, strict and
// lenient decoding, the payload bound and Accept.
func TestServe(t *testing.T) {
	srv, cli := connect(t, 4096)
	var accept atomic.Bool
	handle := func(strict bool) Handler {
		return func(ctx context.Context, data []byte) any {
			var req echo
			decode := Decode
			if strict {
				decode = DecodeStrict
			}
			if err := decode(data, &req); err != nil {
				return Error("invalid request: " + err.Error())
			}
			if _, ok := ctx.Deadline(); !ok {
				return Error("no deadline")
			}
			if req.Name == "big" {
				return Success(strings.Repeat("x", 5000))
			}
			if req.Name == "" {
				return Error("name is required")
			}
			return Success(map[string]string{"hello": req.Name})
		}
	}
	r, err := Serve(srv, Options{Name: "test", Timeout: 5 * time.Second},
		Endpoint{Subject: "t.strict", Queue: "q", Handle: handle(true)},
		Endpoint{Subject: "t.lenient", Queue: "q", Handle: handle(false)},
		Endpoint{Subject: "t.gated", Accept: accept.Load, Handle: handle(false)},
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)

	tests := []struct {
		name, subject, body string
		want                string
	}{
		{"success", "t.strict", `{"name":"a"}`, `{"status":"success","data":{"hello":"a"}}`},
		{"handler error", "t.lenient", ``, `{"status":"error","message":"name is required"}`},
		{"unknown field strict", "t.strict", `{"name":"a","colour":1}`, `{"status":"error","message":"invalid request: json: unknown field \"colour\""}`},
		{"unknown field lenient", "t.lenient", `{"name":"a","colour":1}`, `{"status":"success","data":{"hello":"a"}}`},
		{"bad json", "t.lenient", `{"name":`, `{"status":"error","message":"invalid request: unexpected end of JSON input"}`},
		{"too large", "t.strict", `{"name":"big"}`, `{"status":"error","message":"the answer of 5030 bytes exceeds the NATS maximum payload of 4096 bytes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := cli.Request(tt.subject, []byte(tt.body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != tt.want {
				t.Errorf("got %s, want %s", m.Data, tt.want)
			}
		})
	}

	if _, err := cli.Request("t.gated", []byte(`{"name":"a"}`), 200*time.Millisecond); err == nil {
		t.Error("gated: answered while Accept is false")
	}
	accept.Store(true)
	if m, err := cli.Request("t.gated", []byte(`{"name":"a"}`), 5*time.Second); err != nil || !strings.Contains(string(m.Data), `"success"`) {
		t.Errorf("gated: %s, %v", m.Data, err)
	}
}

// TestMaxInFlight: with MaxInFlight 2, two slow requests are answered at
// once, a third waits for a slot; Stop answers the requests received.
func TestMaxInFlight(t *testing.T) {
	srv, cli := connect(t, 0)
	var running, peak atomic.Int32
	release := make(chan struct{})
	r, err := Serve(srv, Options{Name: "test", MaxInFlight: 2}, Endpoint{Subject: "t.slow", Queue: "q", Handle: func(ctx context.Context, _ []byte) any {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		return Success(n)
	}})
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan *nats.Msg, 3)
	for range 3 {
		go func() {
			m, err := cli.Request("t.slow", nil, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			replies <- m
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for running.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if running.Load() != 2 {
		t.Fatalf("running %d, want 2", running.Load())
	}
	close(release)
	for range 3 {
		m := <-replies
		if m == nil {
			continue
		}
		var rep Reply
		if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Status != StatusSuccess {
			t.Errorf("reply %s: %v", m.Data, err)
		}
	}
	if peak.Load() != 2 {
		t.Errorf("peak %d requests at once, want 2", peak.Load())
	}
	r.Stop()
	if _, err := cli.Request("t.slow", nil, 200*time.Millisecond); err == nil {
		t.Error("answered after Stop")
	}
}

// TestStopCancels: a handler still running when Stop gives up waiting (the
// bound shortened to 200ms) has
// its context cancelled, and Stop returns once it has.
func TestStopCancels(t *testing.T) {
	old := stopWait
	stopWait = 200 * time.Millisecond
	t.Cleanup(func() { stopWait = old })
	srv, cli := connect(t, 0)
	started := make(chan struct{})
	r, err := Serve(srv, Options{Name: "test"}, Endpoint{Subject: "t.stuck", Handle: func(ctx context.Context, _ []byte) any {
		close(started)
		<-ctx.Done()
		return Error(ctx.Err().Error())
	}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = cli.Request("t.stuck", nil, 30*time.Second) }()
	<-started
	r.Stop() // returns only if the context was cancelled
}
