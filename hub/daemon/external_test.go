package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/ingest"
)

// externalConf is the nats-server configuration docs/scaling.md shows for an
// external NATS (one server; %d: client port, leaf port; %s: JetStream
// directory): the hub's user owns the account, each edge is a leaf-node
// user limited to its own subjects.
const externalConf = `server_name: nats1
listen: 127.0.0.1:%d
jetstream { store_dir: %q }
leafnodes { listen: 127.0.0.1:%d }
authorization {
  users: [
    {user: gridedge-hub, password: "hub-secret-long", allowed_connection_types: ["STANDARD"]}
    {user: e1, password: "e1-secret-long", allowed_connection_types: ["LEAFNODE"],
     permissions: {publish: {allow: ["gridedge.ingest.e1", "gridedge.edge.e1.>", "_INBOX_e1.>"]},
                   subscribe: {allow: ["gridedge.edge.e1.>", "_INBOX_e1.>"]}}}
    # a tool (and the REST /gateway as that tool)
    {user: tool, password: "tool-secret-long", allowed_connection_types: ["STANDARD"],
     permissions: {publish: {allow: ["gridedge.fleet.>"]}, subscribe: {allow: ["_INBOX.>"]}}}
  ]
}
`

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startExternalNATS runs nats-server in-process from externalConf and
// returns its client and leaf-node URLs.
func startExternalNATS(t *testing.T) (clientURL, leafURL string, opts *server.Options) {
	t.Helper()
	port, leaf := freeTCPPort(t), freeTCPPort(t)
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(externalConf, port, t.TempDir(), leaf)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the external NATS config of the docs: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the external NATS did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return fmt.Sprintf("nats://127.0.0.1:%d", port), fmt.Sprintf("nats-leaf://127.0.0.1:%d", leaf), opts
}

// TestExternalNATS: a hub configured with nats.external uses a nats-server
// configured as docs/scaling.md shows (its edge user has exactly the
// permissions the embedded server gives an edge): the hub opens no NATS
// listener, creates the ingest streams there, and an edge's leaf node
// attached to the external server delivers batches that reach the store;
// the REST /gateway reaches the hub's services through the external server
// as a tool user it defines.
func TestExternalNATS(t *testing.T) {
	clientURL, leafURL, opts := startExternalNATS(t)
	want := broker.EdgePermissions("gridedge", "e1")
	found := false
	for _, u := range opts.Users {
		if u.Username != "e1" {
			continue
		}
		found = true
		if !reflect.DeepEqual(u.Permissions.Publish.Allow, want.Publish.Allow) || !reflect.DeepEqual(u.Permissions.Subscribe.Allow, want.Subscribe.Allow) {
			t.Fatalf("the documented edge user may publish %v and subscribe %v; broker.EdgePermissions: %v and %v",
				u.Permissions.Publish.Allow, u.Permissions.Subscribe.Allow, want.Publish.Allow, want.Subscribe.Allow)
		}
	}
	if !found {
		t.Fatal("the documented config has no user e1")
	}

	t.Setenv(EnvAdminPassword, "external-admin-password")
	cfg := testConfig(t, t.TempDir())
	cfg.NATS.External = &ExternalNATSConfig{URLs: []string{clientURL}, User: "gridedge-hub", Password: "hub-secret-long"}
	cfg.Edges = []EdgeConfig{{EdgeCredential: broker.EdgeCredential{ID: "e1"}, Layers: []ingest.LayerGrant{{Layer: "demo"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if h.LeafURL() != "" || !h.Broker().External() {
		t.Fatalf("a hub on an external NATS has a leaf listener %q", h.LeafURL())
	}

	// the edge: a leaf node to the external server with its credentials,
	// and its forwarder's connection (inbox prefix _INBOX_e1)
	u, _ := url.Parse(leafURL)
	u.User = url.UserPassword("e1", "e1-secret-long")
	edge, err := server.NewServer(&server.Options{ServerName: "e1", Port: -1, Host: "127.0.0.1", NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}}})
	if err != nil {
		t.Fatal(err)
	}
	go edge.Start()
	if !edge.ReadyForConnections(5 * time.Second) {
		t.Fatal("the edge's server did not start")
	}
	t.Cleanup(func() { edge.Shutdown(); edge.WaitForShutdown() })
	waitFor(t, "the edge's leaf link to the external NATS", func() bool { return edge.NumLeafNodes() == 1 })
	nc, err := nats.Connect(edge.ClientURL(), nats.CustomInboxPrefix("_INBOX_e1"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// the stream's interest crosses the leaf link a moment after it is up
	waitFor(t, "the interest of e1's stream at the edge", func() bool {
		return edge.GlobalAccount().SubscriptionInterest("gridedge.ingest.e1")
	})
	publishBatch(t, js, "e1", 1, 5, "")
	publishBatch(t, js, "e1", 6, 3, "")
	waitFor(t, "e1's 8 updates in the store", func() bool {
		hwm, err := h.Store().HighWaterMark(context.Background(), "e1")
		return err == nil && hwm == 8
	})
	doc, err := h.Store().Get(context.Background(), "demo", "meters", "M1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(doc["measurements"]), "power") {
		t.Fatalf("M1 in the store: %v", doc)
	}

	// the REST /gateway dials the external server as the tool user
	base := "http://" + h.HTTPAddr() + "/api/v2"
	code, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "external-admin-password"}, nil)
	if code != 200 {
		t.Fatalf("login: %d %v", code, m)
	}
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	code, m = call(t, "POST", base+"/gateway", map[string]any{"natsCredentials": "tool:tool-secret-long", "subject": "fleet.list", "method": "request"}, hdr)
	if data, _ := m["data"].(map[string]any); code != 200 || m["status"] != "success" || data == nil || data["edges"] == nil {
		t.Fatalf("/gateway fleet.list as the external server's tool user: %d %v", code, m)
	}
	code, m = call(t, "POST", base+"/gateway", map[string]any{"natsCredentials": "tool:wrong-password", "subject": "fleet.list"}, hdr)
	if code != 403 {
		t.Fatalf("/gateway with a wrong password for the external server: %d %v, want 403", code, m)
	}

	// an edge that is not e1 can not attach to the external server with
	// e1's name and another password (the external server checks it)
	bad, _ := url.Parse(leafURL)
	bad.User = url.UserPassword("e1", "wrong-password")
	rogue, err := server.NewServer(&server.Options{ServerName: "rogue", Port: -1, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{bad}}}}})
	if err != nil {
		t.Fatal(err)
	}
	go rogue.Start()
	rogue.ReadyForConnections(5 * time.Second)
	t.Cleanup(func() { rogue.Shutdown(); rogue.WaitForShutdown() })
	time.Sleep(500 * time.Millisecond)
	if rogue.NumLeafNodes() != 0 {
		t.Fatal("a leaf node with a wrong password attached to the external NATS")
	}
}

// TestExternalNATSConfig: nats.external is checked with the settings it
// excludes, naming the field.
func TestExternalNATSConfig(t *testing.T) {
	const ext = "nats:\n  external: {urls: [nats://127.0.0.1:4222], user: hub, password: hub-secret-long}\nedges: [{id: e1}]\n"
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"valid, edges without passwords", ext, nil},
		{"replicas on an external cluster", ext + "ingest: {replicas: 3}\n", nil},
		{"no URL", "nats:\n  external: {user: hub, password: x}\n", []string{"nats.external.urls", "is required"}},
		{"bad URL", strings.Replace(ext, "nats://127.0.0.1:4222", "127.0.0.1:4222", 1), []string{"nats.external.urls[0]", "not a URL"}},
		{"two credentials", strings.Replace(ext, "user: hub", "credsFile: hub.creds, user: hub", 1), []string{"nats.external", "one of user/password, credsFile or nkeyFile"}},
		{"user without password", strings.Replace(ext, ", password: hub-secret-long", "", 1), []string{"nats.external", "user and password go together"}},
		{"plaintext with requireTLS", strings.Replace(ext, "nats:\n", "nats:\n  requireTLS: true\n", 1), []string{"nats.external.urls[0]", "plaintext"}},
		{"with a cluster and users", "nats:\n  external: {urls: [nats://127.0.0.1:4222]}\n  cluster: {name: c, listen: 127.0.0.1:6222, routes: [nats://127.0.0.1:6222]}\n  users: [{user: tool, password: tool-secret}]\n",
			[]string{"nats.cluster: has no effect with nats.external", "nats.users: has no effect"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, c.yaml))
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want a valid config", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got a valid config, want an error with %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
