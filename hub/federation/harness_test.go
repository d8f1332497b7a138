package federation

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/subject"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// deployment is one hub's federation parts: embedded NATS with JetStream,
// a bolt store whose writes are announced on the change feed, and the
// federation service.
type deployment struct {
	domain string
	br     *broker.Broker
	nc     *nats.Conn
	raw    store.Store // what the importer writes through
	hist   *history.TSDB
	st     store.Store // what local users write through (read-only imports)
	svc    *Service
	cancel context.CancelFunc
	done   chan error
	leaf   string
	cfg    Config
	dir    string
}

// startDeployment starts a deployment of domain with cfg; opts change the
// service's options.
func startDeployment(t *testing.T, domain string, cfg Config, dir string, opts ...func(*Options)) *deployment {
	return startDeploymentB(t, domain, cfg, dir, opts...)
}

// startDeploymentB is startDeployment for tests and benchmarks.
func startDeploymentB(t testing.TB, domain string, cfg Config, dir string, opts ...func(*Options)) *deployment {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if err := cfg.Validate("federation", domain, func(l string) bool { return l == "system" }); err != nil {
		t.Fatal(err)
	}
	var remotes []broker.LeafRemote
	for _, p := range cfg.Peers {
		if p.URL != "" {
			remotes = append(remotes, broker.LeafRemote{URL: p.URL, User: p.Credentials.User, Password: p.Credentials.Password})
		}
	}
	var peers []broker.LeafPeer
	for _, u := range cfg.PeerUsers(domain) {
		peers = append(peers, broker.LeafPeer{User: u.User, Password: u.Password, Publish: u.Publish, Subscribe: u.Subscribe})
	}
	br, err := broker.Start(broker.Options{Domain: domain, ServerName: "hub-" + domain, LeafListen: "127.0.0.1:0",
		StoreDir: filepath.Join(dir, "js"), Logger: quiet, JetStreamDomain: domain, LeafPeers: peers, LeafRemotes: remotes})
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{domain: domain, br: br, cfg: cfg, dir: dir, leaf: br.LeafURL()}
	if d.nc, err = br.Connect("test-" + domain); err != nil {
		t.Fatal(err)
	}
	bs, err := bolt.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.raw = bs
	if d.hist, err = history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(dir, "history"), Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	publish := func(c store.Change) {
		data, _ := json.Marshal(c)
		_ = d.nc.Publish(subject.StorageChanged(domain, c.Layer, c.Collection), data)
	}
	d.st = store.WithChanges(ReadOnly(bs, cfg.Imported()), publish)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	o := Options{Domain: domain, Config: cfg, NC: d.nc, Store: bs, Changes: publish,
		LinkUp: br.LeafRemoteConnected, LeafInterest: br.LeafInterest, DirectDelivered: br.DirectDelivered, History: d.hist, Logger: quiet}
	for _, f := range opts {
		f(&o)
	}
	d.svc, err = New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.svc.Run(ctx) }()
	t.Cleanup(d.stop)
	return d
}

// stop ends the deployment (idempotent).
func (d *deployment) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.done
	d.cancel = nil
	d.nc.Close()
	d.br.Shutdown()
	d.raw.Close()
	d.hist.Close()
}

// layer creates a layer with collections at d (through the user's store).
func (d *deployment) layer(t *testing.T, id string, cols ...string) {
	t.Helper()
	l := store.Layer{ID: id}
	for _, c := range cols {
		l.Collections = append(l.Collections, store.Collection{Name: c})
	}
	if err := d.st.PutLayer(context.Background(), l); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// doc returns a document of d's raw store, or nil.
func (d *deployment) doc(layer, col, id string) store.Document {
	doc, err := d.raw.Get(context.Background(), layer, col, id)
	if err != nil {
		return nil
	}
	return doc
}
