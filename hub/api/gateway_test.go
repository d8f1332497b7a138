package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/config"
)

// startNATS starts an in-process nats-server with a user allowed on
// xflex.metrics.> only, and a "metrics.get" responder.
func startNATS(t *testing.T) (url string, published chan []byte) {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Users: []*server.User{
			{Username: "svc", Password: "svc-secret"},
			{Username: "tool", Password: "tool-secret", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"xflex.metrics.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}}}},
		}}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("svc", "svc-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	published = make(chan []byte, 10)
	if _, err := nc.Subscribe("xflex.metrics.get", func(m *nats.Msg) {
		var params map[string]any
		json.Unmarshal(m.Data, &params)
		reply, _ := json.Marshal(map[string]any{"layer": params["layer"], "values": []any{3660.17}})
		m.Respond(reply)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("xflex.metrics.event", func(m *nats.Msg) { published <- m.Data }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL(), published
}

func TestGateway(t *testing.T) {
	url, published := startNATS(t)
	e := newEnv(t, func(s *Server) {
		s.Config.Gateway.Timeout = config.Duration(2 * time.Second)
		s.Gateway = Gateway{Domain: "xflex",
			Dial: func(ctx context.Context, opts ...nats.Option) (*nats.Conn, error) { return nats.Connect(url, opts...) }}
	})
	user := e.addUser("alice", nil)
	// The seed's example.
	res := e.must("POST", "/gateway", map[string]any{"natsCredentials": "tool:tool-secret", "subject": "metrics.get", "method": "request",
		"params": map[string]any{"layer": "xflex", "collection": "xflex.gridflex.generators", "measures": []any{"activePower"},
			"period": "1d", "filter": map[string]any{"generator": []any{"TSO"}}}}, user)
	jsonEq(t, "gateway reply", res, map[string]any{"status": "success", "data": map[string]any{"layer": "xflex", "values": []any{3660.17}}})

	// publish, params default {}.
	e.must("POST", "/gateway", map[string]any{"natsCredentials": map[string]any{"user": "tool", "password": "tool-secret"},
		"subject": "metrics.event", "method": "publish"}, user)
	select {
	case got := <-published:
		if string(got) != "{}" {
			t.Fatalf("published %q, want {}", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing published")
	}

	e.wantError("POST", "/gateway", map[string]any{"natsCredentials": "tool:wrong", "subject": "metrics.get"}, user, 403, "natsCredentials")
	e.wantError("POST", "/gateway", map[string]any{"natsCredentials": "tool:tool-secret", "subject": "metrics.none"}, user, 502, "xflex.metrics.none")
	e.wantError("POST", "/gateway", map[string]any{"natsCredentials": "tool:tool-secret", "subject": "metrics.*"}, user, 400, "subject")
	e.wantError("POST", "/gateway", map[string]any{"subject": "metrics.get"}, user, 400, "natsCredentials")
	e.wantError("POST", "/gateway", map[string]any{"natsCredentials": "tool:tool-secret", "subject": "metrics.get", "method": "call"}, user, 400, "method")
	// Outside the NATS user's permissions: the request cannot be sent.
	e.wantError("POST", "/gateway", map[string]any{"natsCredentials": "tool:tool-secret", "subject": "storage.get"}, user, 403, "storage.get")

	off := newEnv(t)
	off.wantError("POST", "/gateway", map[string]any{"natsCredentials": "a:b", "subject": "metrics.get"}, off.admin, 503, "gateway")
}
