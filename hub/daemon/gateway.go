package daemon

import (
	"net"
	"net/url"

	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/shared/config"
)

// GatewayConfig joins the hub's cluster to the clusters of other regions
// with NATS gateways (a supercluster, docs/scaling.md): one JetStream over
// every node, each edge's stream placed in the cluster the edge attaches
// to (edges[].cluster).
type GatewayConfig struct {
	// Name is the gateway's name: the cluster's name (nats.cluster.name),
	// which is also its default.
	Name string `json:"name,omitempty"`
	// Listen is host:port for gateway connections from the other
	// clusters (e.g. ":7222").
	Listen listen.Addr `json:"listen"`
	// Advertise is the host:port the other clusters are told to reach
	// this node's gateway at (behind NAT or a proxy); default the listen
	// address.
	Advertise string `json:"advertise,omitempty"`
	// Gateways are the other clusters, each with the gateway URLs of some
	// of its nodes (nats://host:7222).
	Gateways []RemoteGatewayConfig `json:"gateways"`
	// TLS makes gateways use TLS both ways with this certificate; with
	// caFile, the other clusters' nodes must present a certificate that
	// CA signed (recommended: gateways cross regions).
	TLS *TLSFiles `json:"tls,omitempty"`
}

// RemoteGatewayConfig is another cluster of the supercluster.
type RemoteGatewayConfig struct {
	// Name is that cluster's nats.cluster.name.
	Name string `json:"name"`
	// URLs are gateway URLs of its nodes (nats://host:7222, tls://… is
	// the same with nats.gateway.tls).
	URLs []string `json:"urls"`
}

// validateGateway checks nats.gateway and edges[].cluster.
func (c *Config) validateGateway(es *config.Errors) {
	g, cl := c.NATS.Gateway, c.NATS.Cluster
	clusters := map[string]bool{}
	if cl != nil && cl.Name != "" {
		clusters[cl.Name] = true
	}
	if g != nil {
		if cl == nil {
			es.Add("nats.gateway", "needs nats.cluster: a gateway joins this node's cluster to the others (a region of one node sets nats.cluster with its own route)")
		} else if g.Name != "" && g.Name != cl.Name {
			es.Add("nats.gateway.name", "%q differs from nats.cluster.name %q (nats-server requires them to be the same; leave it out)", g.Name, cl.Name)
		}
		if !g.Listen.Enabled() {
			es.Add("nats.gateway.listen", "is required (host:port for the other clusters' gateways, e.g. :7222)")
		} else if err := g.Listen.Check(); err != nil {
			es.Add("nats.gateway.listen", "%v", err)
		}
		if g.Advertise != "" {
			if _, port, err := net.SplitHostPort(g.Advertise); err != nil || port == "" {
				es.Add("nats.gateway.advertise", "%q is not host:port", g.Advertise)
			}
		}
		if len(g.Gateways) == 0 {
			es.Add("nats.gateway.gateways", "is required: the other clusters, each {name, urls}")
		}
		for i, r := range g.Gateways {
			p := config.Index("nats.gateway.gateways", i)
			switch {
			case r.Name == "":
				es.Add(config.Join(p, "name"), "is required (the other cluster's nats.cluster.name)")
			case clusters[r.Name]:
				es.Add(config.Join(p, "name"), "%q is this cluster or listed twice", r.Name)
			}
			clusters[r.Name] = true
			if len(r.URLs) == 0 {
				es.Add(config.Join(p, "urls"), "is required: gateway URLs of the cluster's nodes (nats://host:7222)")
			}
			for j, s := range r.URLs {
				u, err := url.Parse(s)
				if err != nil || u.Host == "" || u.Port() == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
					es.Add(config.Index(config.Join(p, "urls"), j), "%q is not a gateway URL like nats://host:7222", s)
				}
			}
		}
		if g.TLS != nil && (g.TLS.CertFile == "" || g.TLS.KeyFile == "") {
			es.Add("nats.gateway.tls", "certFile and keyFile are both required")
		}
		if c.NATS.RequireTLS && g.TLS == nil {
			es.Add("nats.requireTLS", "is set but nats.gateway.tls is not: gateways would carry JetStream and control traffic between regions in plaintext")
		}
	}
	for i, e := range c.Edges {
		if e.Cluster == "" {
			if g != nil {
				es.Add(config.Join(config.Index("edges", i), "cluster"), "is required with nats.gateway: the cluster (region) edge %q attaches to, where its stream is placed", e.ID)
			}
			continue
		}
		if !clusters[e.Cluster] {
			es.Add(config.Join(config.Index("edges", i), "cluster"), "%q is neither nats.cluster.name nor a cluster of nats.gateway.gateways", e.Cluster)
		}
	}
}

// brokerGateway is the broker's view of nats.gateway (nil: none).
func (c *Config) brokerGateway() *broker.GatewayOptions {
	g := c.NATS.Gateway
	if g == nil {
		return nil
	}
	o := &broker.GatewayOptions{Name: g.Name, Listen: g.Listen.HostPort(), Advertise: g.Advertise, TLS: g.TLS}
	for _, r := range g.Gateways {
		o.Gateways = append(o.Gateways, broker.RemoteGateway{Name: r.Name, URLs: r.URLs})
	}
	return o
}

// judgesEdge tells, in a supercluster, which edges this hub may mark
// offline: those of its own cluster, whose heartbeats reach it without
// crossing a gateway (nil without a gateway: every edge).
func (c *Config) judgesEdge() func(edge string) bool {
	if c.NATS.Gateway == nil || c.NATS.Cluster == nil {
		return nil
	}
	local := map[string]bool{}
	for _, e := range c.Edges {
		if e.Cluster == c.NATS.Cluster.Name {
			local[e.ID] = true
		}
	}
	return func(edge string) bool { return local[edge] }
}

// edgePlacement names, for the ingest applier, the cluster each edge's
// stream is placed in (nil without edges[].cluster).
func (c *Config) edgePlacement() func(edge string) string {
	m := map[string]string{}
	for _, e := range c.Edges {
		if e.Cluster != "" {
			m[e.ID] = e.Cluster
		}
	}
	if len(m) == 0 {
		return nil
	}
	return func(edge string) string { return m[edge] }
}
