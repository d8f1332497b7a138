package broker

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/gridedge/gridedge/shared/subject"
)

// An edge's credentials reach no other edge's control subjects: edge e1
// can neither send e2 a map push (or any control request) nor see the
// requests made to e2 or e2's replies.
func TestAttackEdgeCannotReachAnotherEdgesControl(t *testing.T) {
	var publish []string
	for _, a := range subject.EdgeControlActions {
		publish = append(publish, subject.EdgeControl("d", "*", a))
	}
	b, err := Start(Options{Domain: "d", ServerName: "hub", LeafListen: "127.0.0.1:0", ClientListen: "127.0.0.1:-1", StoreDir: t.TempDir(),
		Edges: []EdgeCredential{{ID: "e1", Password: "secret-1-long"}, {ID: "e2", Password: "secret-2-long"}},
		Users: []ClientUser{{User: "ops", Password: "ops-secret", Publish: publish}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	// the operator's CLI: a client user that may publish control requests
	// only, and so may read the edges' reply inboxes
	hub, err := nats.Connect(b.ClientURL(), nats.UserInfo("ops", "ops-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	connect := func(url string) *nats.Conn {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	e1 := connect(leaf(t, b.LeafURL(), "e1", "secret-1-long").ClientURL())
	e2 := connect(leaf(t, b.LeafURL(), "e2", "secret-2-long").ClientURL())

	// e2 answers its control subjects and counts what reaches it
	var e2got atomic.Int64
	if _, err := e2.Subscribe(subject.EdgeAll("d", "e2"), func(m *nats.Msg) {
		e2got.Add(1)
		_ = m.Respond([]byte("e2 answers"))
	}); err != nil {
		t.Fatal(err)
	}
	// e1 tries to listen to e2's control subjects and replies, and to every edge's pushes
	var e1stole atomic.Int64
	for _, s := range []string{subject.EdgeAll("d", "e2"), subject.EdgeInbox("e2") + ".>", "d.edge.*.map.push", "_INBOX.>", ">"} {
		if _, err := e1.Subscribe(s, func(m *nats.Msg) {
			// e1's own messages loop back on its server; what counts is
			// what the hub sent e2 ({}) and e2's answers
			own := strings.HasPrefix(m.Subject, "d.edge.e1.") || strings.HasPrefix(m.Subject, subject.EdgeInbox("e1"))
			if !own && (string(m.Data) == "{}" || string(m.Data) == "e2 answers") {
				e1stole.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	// a probe e1 may subscribe to: once the hub reaches it, every earlier
	// subscription of e1 has been through the hub's permissions
	if _, err := e1.Subscribe(subject.EdgeControl("d", "e1", subject.ActionStatus), func(m *nats.Msg) { _ = m.Respond([]byte("e1")) }); err != nil {
		t.Fatal(err)
	}
	e1.Flush()
	e2.Flush()

	// the hub reaches e2 with a reply inbox under e2's prefix
	request := func(edge, action string) ([]byte, error) {
		inbox := subject.EdgeInbox(edge) + "." + nuid.Next()
		sub, err := hub.SubscribeSync(inbox)
		if err != nil {
			return nil, err
		}
		defer sub.Unsubscribe()
		if err := hub.PublishRequest(subject.EdgeControl("d", edge, action), inbox, []byte(`{}`)); err != nil {
			return nil, err
		}
		m, err := sub.NextMsg(300 * time.Millisecond)
		if err != nil {
			return nil, err
		}
		return m.Data, nil
	}
	for _, edge := range []string{"e2", "e1"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := request(edge, subject.ActionStatus); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the hub cannot reach %s's control subjects", edge)
			}
		}
	}
	// an edge cannot answer to a hub inbox outside its prefix
	if _, err := hub.Request(subject.EdgeControl("d", "e2", subject.ActionStatus), nil, 300*time.Millisecond); err == nil {
		t.Error("e2 answered to a reply subject outside _INBOX_e2: its replies are not confined")
	}

	// the hub's requests to e2 reach e2 and nobody else
	before := e2got.Load()
	for _, action := range subject.EdgeControlActions {
		if data, err := request("e2", action); err != nil || string(data) != "e2 answers" {
			t.Fatalf("%s of e2 from the hub: %q %v", action, data, err)
		}
	}
	if e2got.Load()-before != int64(len(subject.EdgeControlActions)) {
		t.Errorf("e2 received %d requests, want %d", e2got.Load()-before, len(subject.EdgeControlActions))
	}

	// e1 sends e2 a push and every other control request: none arrives
	before = e2got.Load()
	for _, action := range subject.EdgeControlActions {
		if err := e1.Publish(subject.EdgeControl("d", "e2", action), []byte(`{"edge":"e2"}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := e1.Request(subject.EdgeControl("d", "e2", action), []byte(`{"edge":"e2"}`), 200*time.Millisecond); err == nil {
			t.Errorf("%s: e1 got an answer from e2", action)
		}
	}
	e1.Flush()
	// a request the hub makes after e1's messages arrives after them on e2's link
	if _, err := request("e2", subject.ActionStatus); err != nil {
		t.Fatal(err)
	}
	if n := e2got.Load() - before; n != 1 {
		t.Errorf("e2 received %d messages, want only the hub's 1: e1 reached e2's control subjects", n)
	}
	if n := e1stole.Load(); n != 0 {
		t.Errorf("e1 saw %d messages of e2's control subjects or replies", n)
	}
}

func TestControlInboxes(t *testing.T) {
	edges := []EdgeCredential{{ID: "e1"}, {ID: "e2"}}
	tests := []struct {
		publish []string
		want    []string
	}{
		{nil, nil},
		{[]string{"d.forecast.>"}, nil},
		{[]string{"d.edge.*.status"}, []string{"_INBOX_e1.>", "_INBOX_e2.>"}},
		{[]string{"d.edge.e2.>"}, []string{"_INBOX_e2.>"}},
		{[]string{"d.edge.e1.map.push", "d.edge.e1.map.get"}, []string{"_INBOX_e1.>"}},
		{[]string{"d.edge.e1.heartbeat"}, nil}, // not a control request
		{[]string{"x.edge.*.status"}, nil},     // another domain
		{[]string{">"}, []string{"_INBOX_e1.>", "_INBOX_e2.>"}},
	}
	for _, tc := range tests {
		got := controlInboxes("d", edges, tc.publish)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("publish %v: got %v, want %v", tc.publish, got, tc.want)
		}
	}
}
