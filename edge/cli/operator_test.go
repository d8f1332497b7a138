package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/gridedge/gridedge/shared/subject"
)

// operatorUser is the CLI's hub user as docs/cli.md documents it.
type operatorUser struct {
	User      string   `yaml:"user"`
	Password  string   `yaml:"password"`
	Publish   []string `yaml:"publish"`
	Subscribe []string `yaml:"subscribe"`
}

// documentedOperator decodes the example user of docs/cli.md, so that the
// documented permissions are the ones tested.
func documentedOperator(t *testing.T) operatorUser {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- operator-user")
	if !ok {
		t.Fatal("docs/cli.md has no operator-user block")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	var cfg struct {
		NATS struct {
			Users []operatorUser `yaml:"users"`
		} `yaml:"nats"`
	}
	if err := yaml.Unmarshal([]byte(block), &cfg); err != nil || len(cfg.NATS.Users) != 1 {
		t.Fatalf("docs/cli.md operator user: %v (%d users)", err, len(cfg.NATS.Users))
	}
	return cfg.NATS.Users[0]
}

// fleetHub is a NATS server set up as the hub's broker sets up its own:
// edges are users allowed only as leaf nodes, with the permissions of
// hub/broker.EdgePermissions; the operator is a client user with the
// documented permissions plus what the broker adds to every client user
// (its own inbox, one reply per request it receives, and the reply inboxes
// of the edges it may send control requests). hub/e2e runs the same
// commands against the real hub.
type fleetHub struct {
	srv      *server.Server
	leafURL  string
	operator operatorUser
}

func startFleetHub(t *testing.T, edges ...string) *fleetHub {
	t.Helper()
	op := documentedOperator(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leafPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	types := func(ts ...string) map[string]struct{} {
		m := map[string]struct{}{}
		for _, x := range ts {
			m[x] = struct{}{}
		}
		return m
	}
	users := []*server.User{
		{Username: "hub", Password: "hub-pw"},
		{Username: op.User, Password: op.Password, AllowedConnectionTypes: types("STANDARD"), Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: op.Publish},
			Subscribe: &server.SubjectPermission{Allow: append(append([]string{"_INBOX.>"}, op.Subscribe...), controlInboxes(edges, op.Publish)...)},
			Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		}},
	}
	for _, e := range edges {
		users = append(users, &server.User{Username: e, Password: e + "-pw", AllowedConnectionTypes: types("LEAFNODE"),
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{subject.Ingest("gridedge", e), subject.EdgeAll("gridedge", e), subject.EdgeInbox(e) + ".>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{subject.EdgeAll("gridedge", e), subject.EdgeInbox(e) + ".>"}},
			}})
	}
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true, Users: users}
	opts.LeafNode.Host, opts.LeafNode.Port, opts.LeafNode.NoAdvertise = "127.0.0.1", leafPort, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub NATS did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return &fleetHub{srv: s, leafURL: fmt.Sprintf("nats-leaf://127.0.0.1:%d", leafPort), operator: op}
}

// controlInboxes are the reply inboxes the hub's broker adds to a client
// user that may publish an edge's control requests (hub/broker: an edge can
// answer only on its own inbox prefix).
func controlInboxes(edges []string, publish []string) []string {
	var out []string
	for _, e := range edges {
		for _, a := range subject.EdgeControlActions {
			if slices.ContainsFunc(publish, func(p string) bool { return server.SubjectMatchesFilter(subject.EdgeControl("gridedge", e, a), p) }) {
				out = append(out, subject.EdgeInbox(e)+".>")
				break
			}
		}
	}
	return out
}

// operatorArgs are the connection flags of the documented operator.
func (h *fleetHub) operatorArgs() []string {
	return []string{"--server", h.srv.ClientURL(), "--user", h.operator.User, "--password", h.operator.Password}
}

// TestOperatorUserPermissions checks the documented operator user against
// a real server: it reaches the fleet subjects and cannot publish batches,
// heartbeats or storage requests, nor listen to an edge's subjects.
func TestOperatorUserPermissions(t *testing.T) {
	isolate(t)
	h := startFleetHub(t, "edge1")
	hub, err := nats.Connect(h.srv.ClientURL(), nats.UserInfo("hub", "hub-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	seen, err := hub.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}
	denied := make(chan string, 16)
	op, err := nats.Connect(h.srv.ClientURL(), nats.UserInfo(h.operator.User, h.operator.Password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err.Error() }))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	tests := []struct {
		subj    string
		allowed bool
	}{
		{subject.EdgeControl("gridedge", "edge1", subject.ActionMapPush), true},
		{subject.EdgeControl("gridedge", "edge7", subject.ActionRead), true},
		{subject.FleetList("gridedge"), true},
		{subject.Ingest("gridedge", "edge1"), false},
		{subject.Heartbeat("gridedge", "edge1"), false},
		{subject.Storage("gridedge", "insert"), false},
		{subject.EdgeControl("gridedge", "edge1", "map.push.extra"), false},
		{"$JS.API.STREAM.DELETE.INGEST_edge1", false},
	}
	for _, tt := range tests {
		if err := op.Publish(tt.subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := op.Flush(); err != nil {
			t.Fatal(err)
		}
		if tt.allowed {
			m, err := seen.NextMsg(5 * time.Second)
			if err != nil || m.Subject != tt.subj {
				t.Errorf("publish %s: not delivered (%v)", tt.subj, err)
			}
			continue
		}
		select {
		case e := <-denied:
			if !strings.Contains(e, "Permissions Violation for Publish to") {
				t.Errorf("publish %s: error %q", tt.subj, e)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("publish %s: allowed, want a permissions violation", tt.subj)
		}
	}
	if _, err := op.Subscribe(subject.EdgeAll("gridedge", "edge1"), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := op.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-denied:
		if !strings.Contains(e, "Permissions Violation for Subscription to") {
			t.Errorf("subscribe to edge1's subjects: %q", e)
		}
	case <-time.After(5 * time.Second):
		t.Error("the operator may subscribe to edge1's control subjects")
	}

	// hub streams works with the documented permissions
	js, err := jetstream.New(hub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST_edge1", Subjects: []string{"gridedge.ingest.edge1"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DEADLETTER", Subjects: []string{"gridedge.deadletter.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, "INGEST_edge1", jetstream.ConsumerConfig{Durable: "applier-edge1", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	dl := nats.NewMsg("gridedge.deadletter.ingest")
	dl.Header.Set("GridEdge-Edge", "edge1")
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(append([]string{"hub", "streams", "--json"}, h.operatorArgs()...)...)
	var rep streamsReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Edges) != 1 || rep.Edges[0].DeadLetters != 1 {
		t.Errorf("hub streams as the operator: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	// the pager's consumer is gone again
	dls, err := js.Stream(ctx, "DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	names := dls.ConsumerNames(ctx)
	for n := range names.Name() {
		t.Errorf("hub streams left consumer %s on DEADLETTER", n)
	}
}
