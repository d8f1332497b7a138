package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/shared/tlsconf"
)

// ClusterOptions make the embedded server join a NATS cluster of hub
// replicas: JetStream then replicates streams and consumers over the
// cluster (Raft), so a hub node can be lost without losing a batch.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every node.
	Name string
	// Listen is host:port for routes from the other nodes.
	Listen string
	// Routes are the other nodes' route URLs (nats://host:6222); a node's
	// own URL may be listed too (the server ignores a route to itself), so
	// every node can share one list.
	Routes []string
	// TLS, when set, makes routes use TLS both ways with this certificate;
	// with a CA file, peers must present a certificate it signed, and the
	// peers' certificates are verified against it.
	TLS *tlsconf.Files
}

// accountName is the account the hub's users, edges and streams live in.
const accountName = server.DEFAULT_GLOBAL_ACCOUNT

// configureCluster sets the route options of opts from c.
func configureCluster(opts *server.Options, c *ClusterOptions, log *slog.Logger) error {
	if c.Name == "" {
		return errors.New("broker: cluster: a cluster name is required")
	}
	if opts.ServerName == "" {
		return errors.New("broker: cluster: every node needs its own server name")
	}
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("broker: cluster listen address %q: %w", c.Listen, err)
	}
	opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = c.Name, host, port
	// nodes reach each other at the routes configured, not at addresses
	// they would gossip (often internal or NATed)
	opts.Cluster.NoAdvertise = true
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("broker: cluster route %q is not a URL like nats://host:6222", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	if c.TLS != nil {
		tc, r, err := tlsconf.Server("nats.cluster.tls", *c.TLS, log)
		if err != nil {
			return fmt.Errorf("broker: cluster TLS: %w", err)
		}
		// the same certificate answers and dials; peers are verified
		// against the CA that verifies incoming routes
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.Certificate() }
		tc.RootCAs = tc.ClientCAs
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tc, 5
	} else if !tlsconf.Loopback(c.Listen) {
		log.Warn("WARNING: the NATS cluster port listens in plaintext on a non-loopback address: batches cross the network in clear between hub nodes; set nats.cluster.tls",
			"addr", c.Listen)
	}
	return nil
}

// Clustered reports whether the server is part of a JetStream cluster.
func (b *Broker) Clustered() bool { return b.ext == nil && b.srv.JetStreamIsClustered() }

// LeadsConsumer reports whether this server is the Raft leader of a
// JetStream consumer: the node that delivers its messages. Outside a
// cluster it is always true; with an external NATS too, since the hub is
// then no NATS server: hubs sharing one external NATS apply in turns, kept
// in order by the applier (docs/scaling.md#external-nats). It asks the
// local server, without a request.
func (b *Broker) LeadsConsumer(stream, consumer string) bool {
	if b.ext != nil || !b.srv.JetStreamIsClustered() {
		return true
	}
	return b.srv.JetStreamIsConsumerLeader(accountName, stream, consumer)
}

// WaitJetStream waits until JetStream answers requests: at once on a
// standalone server, once the cluster has elected its meta leader on a
// node of a cluster (which needs a majority of the nodes).
func (b *Broker) WaitJetStream(ctx context.Context) error {
	nc, err := b.Connect("gridedge-hub-wait")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = js.AccountInfo(rctx)
		cancel()
		if last == nil {
			return nil
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("broker: JetStream not ready (is a majority of the cluster's nodes up?): %w (last error: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}
