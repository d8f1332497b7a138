package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gridedge/gridedge/shared/tlsconf"
)

// GatewayOptions join the hub's cluster to the clusters of other regions
// with NATS gateways: together they form a supercluster with one JetStream
// (one meta group over every node), in which each edge's stream is placed
// in the cluster its leaf node attaches to (docs/scaling.md).
type GatewayOptions struct {
	// Name is the gateway's name; nats-server requires it to be the
	// cluster's name, so empty means ClusterOptions.Name.
	Name string
	// Listen is host:port for gateway connections from the other clusters.
	Listen string
	// Advertise, when set, is the host:port the other clusters are told to
	// reach this node's gateway at (NAT, proxies); empty: the listen
	// address.
	Advertise string
	// Gateways are the other clusters: each with the gateway URLs of one
	// or more of its nodes (the others are learned from them).
	Gateways []RemoteGateway
	// TLS, when set, makes gateways use TLS both ways with this
	// certificate; with a CA file, the other clusters' nodes must present
	// a certificate it signed, and theirs are verified against it.
	TLS *tlsconf.Files
}

// RemoteGateway is another cluster of the supercluster.
type RemoteGateway struct {
	// Name is that cluster's name (its gateway name).
	Name string
	// URLs are gateway URLs of its nodes (nats://host:7222).
	URLs []string
}

// configureGateway sets the gateway options of opts from g; the cluster
// (clusterName) must be configured already.
func configureGateway(opts *server.Options, g *GatewayOptions, clusterName string, requireTLS bool, log *slog.Logger) error {
	if clusterName == "" {
		return errors.New("broker: gateway: a gateway joins a cluster to others: set the cluster too (a region of one node lists its own route)")
	}
	name := g.Name
	if name == "" {
		name = clusterName
	}
	if name != clusterName {
		return fmt.Errorf("broker: gateway name %q differs from the cluster name %q (nats-server requires them to be the same)", name, clusterName)
	}
	host, port, err := splitHostPort(g.Listen)
	if err != nil {
		return fmt.Errorf("broker: gateway listen address %q: %w", g.Listen, err)
	}
	opts.Gateway.Name, opts.Gateway.Host, opts.Gateway.Port = name, host, port
	// nats-server requires the system account named when a server has
	// both gateways and leaf nodes; it exists on every server, nobody
	// logs into it here
	opts.SystemAccount = server.DEFAULT_SYSTEM_ACCOUNT
	opts.Accounts = append(opts.Accounts, server.NewAccount(server.DEFAULT_SYSTEM_ACCOUNT))
	opts.Gateway.Advertise = g.Advertise
	// a gateway from a cluster nobody configured here is refused: the
	// supercluster is the list given on every node
	opts.Gateway.RejectUnknown = true
	seen := map[string]bool{name: true}
	for _, r := range g.Gateways {
		if r.Name == "" {
			return errors.New("broker: gateway: every remote gateway needs the name of its cluster")
		}
		if seen[r.Name] {
			return fmt.Errorf("broker: gateway %q is listed twice (or is this cluster)", r.Name)
		}
		seen[r.Name] = true
		if len(r.URLs) == 0 {
			return fmt.Errorf("broker: gateway %q has no URL", r.Name)
		}
		rg := &server.RemoteGatewayOpts{Name: r.Name}
		for _, s := range r.URLs {
			u, err := url.Parse(s)
			if err != nil || u.Host == "" || u.Port() == "" {
				return fmt.Errorf("broker: gateway %q: %q is not a URL like nats://host:7222", r.Name, s)
			}
			rg.URLs = append(rg.URLs, u)
		}
		opts.Gateway.Gateways = append(opts.Gateway.Gateways, rg)
	}
	if g.TLS != nil {
		tc, r, err := tlsconf.Server("nats.gateway.tls", *g.TLS, log)
		if err != nil {
			return fmt.Errorf("broker: gateway TLS: %w", err)
		}
		// as on routes: one certificate answers and dials, peers are
		// verified against the CA that verifies incoming gateways
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.Certificate() }
		tc.RootCAs = tc.ClientCAs
		opts.Gateway.TLSConfig, opts.Gateway.TLSTimeout = tc, 5
		for _, rg := range opts.Gateway.Gateways {
			rg.TLSConfig, rg.TLSTimeout = tc.Clone(), 5
		}
	} else if requireTLS {
		return fmt.Errorf("%w: gateway %s (set nats.gateway.tls)", ErrPlaintext, g.Listen)
	} else if !tlsconf.Loopback(g.Listen) {
		log.Warn("WARNING: NATS gateways run in plaintext: batches and JetStream's replication cross regions in clear; set nats.gateway.tls",
			"addr", g.Listen)
	}
	return nil
}

// Gateways reports the clusters this node has an outbound gateway
// connection to.
func (b *Broker) Gateways() []string {
	if b.ext != nil {
		return nil
	}
	gz, err := b.srv.Gatewayz(nil)
	if err != nil {
		return nil
	}
	var names []string
	for name, rg := range gz.OutboundGateways {
		if rg != nil && rg.Connection != nil {
			names = append(names, name)
		}
	}
	return names
}

// ClusterName is the name of the cluster this node belongs to ("" when
// standalone or with an external NATS).
func (b *Broker) ClusterName() string {
	if b.ext != nil {
		return ""
	}
	return b.srv.ClusterName()
}
