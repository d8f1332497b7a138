package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startPlainServer runs a nats-server with one user and JetStream on or off.
func startPlainServer(t *testing.T, jetStream bool) string {
	t.Helper()
	opts := &server.Options{ServerName: "ext", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: jetStream, StoreDir: t.TempDir(), Users: []*server.User{{Username: "hub", Password: "hub-secret-long"}}}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("the external server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

// TestExternal: a broker on an external NATS connects with the hub's
// credentials and serves connections; a wrong password, a server without
// JetStream, a bad URL and options the external server owns fail the start
// with an error saying so.
func TestExternal(t *testing.T) {
	withJS, withoutJS := startPlainServer(t, true), startPlainServer(t, false)
	good := ExternalOptions{URLs: []string{withJS}, User: "hub", Password: "hub-secret-long"}
	b, err := Start(Options{Domain: "d", Logger: quiet, External: &good})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	nc, err := b.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if b.ClientURL() != withJS || b.LeafURL() != "" || !b.LeadsConsumer("S", "c") || b.Clustered() {
		t.Fatalf("external broker: client URL %q, leaf URL %q, leads %v, clustered %v", b.ClientURL(), b.LeafURL(), b.LeadsConsumer("S", "c"), b.Clustered())
	}
	with := func(f func(*Options)) Options {
		e := good
		o := Options{Domain: "d", Logger: quiet, External: &e}
		f(&o)
		return o
	}
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"wrong password", with(func(o *Options) { o.External.Password = "wrong" }), "connect gridedge-hub-check to the external NATS"},
		{"no JetStream", with(func(o *Options) { o.External.URLs = []string{withoutJS} }), "the hub's account has no JetStream"},
		{"bad URL", with(func(o *Options) { o.External.URLs = []string{"127.0.0.1:4222"} }), `"127.0.0.1:4222" is not like nats://host:4222`},
		{"two credentials", with(func(o *Options) { o.External.CredsFile = "hub.creds" }), "one of user/password"},
		{"a leaf listener", with(func(o *Options) { o.LeafListen = "127.0.0.1:0" }), "opens no NATS listener"},
		{"a cluster", with(func(o *Options) { o.Cluster = &ClusterOptions{Name: "c"} }), "clustered by its operator"},
		{"users", with(func(o *Options) { o.Users = []ClientUser{{User: "u", Password: "p"}} }), "configured on the external servers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Start(c.o)
			if err == nil {
				b.Shutdown()
				t.Fatalf("started; want an error with %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}
