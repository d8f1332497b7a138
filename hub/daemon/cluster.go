package daemon

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/shared/config"
)

// ClusterConfig makes the hub's embedded NATS server a node of a NATS
// cluster of hub replicas (docs/scaling.md): JetStream replicates the
// ingest streams over it, and every hub node serves the same store.
type ClusterConfig struct {
	// Name is the cluster's name, the same on every node.
	Name string `json:"name"`
	// Listen is host:port for routes from the other nodes (e.g. ":6222").
	Listen listen.Addr `json:"listen"`
	// Routes are the route URLs of the cluster's nodes
	// (nats://host:6222); the node's own may be listed, so every node can
	// share one list.
	Routes []string `json:"routes"`
	// TLS makes routes use TLS both ways with this certificate; with
	// caFile, peers must present a certificate that CA signed (recommended
	// whenever routes leave the host).
	TLS *TLSFiles `json:"tls,omitempty"`
}

// maxReplicas is JetStream's largest replica count.
const maxReplicas = 5

// size is the number of nodes the routes name, counting this one.
func (c *ClusterConfig) size() int {
	n := len(c.Routes)
	_, port, err := splitPort(string(c.Listen))
	if err != nil {
		return n + 1
	}
	for _, r := range c.Routes {
		if u, err := url.Parse(r); err == nil && u.Port() == port && localHost(u.Hostname()) {
			return n // the node's own route is listed
		}
	}
	return n + 1
}

func splitPort(hp string) (string, string, error) {
	u, err := url.Parse("x://" + hp)
	if err != nil {
		return "", "", err
	}
	return u.Hostname(), u.Port(), nil
}

func localHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || h == ""
}

// validateCluster checks nats.cluster and ingest.replicas.
func (c *Config) validateCluster(es *config.Errors) {
	c.validateGateway(es)
	c.validateExternal(es)
	cl := c.NATS.Cluster
	if cl == nil {
		if c.Ingest.Replicas > 1 && c.NATS.External == nil {
			es.Add("ingest.replicas", "%d needs a cluster of at least %d nodes (nats.cluster); a single hub keeps 1 replica", c.Ingest.Replicas, c.Ingest.Replicas)
		}
		return
	}
	if cl.Name == "" {
		es.Add("nats.cluster.name", "is required")
	}
	if !cl.Listen.Enabled() {
		es.Add("nats.cluster.listen", "is required (host:port for the other nodes' routes)")
	} else if err := cl.Listen.Check(); err != nil {
		es.Add("nats.cluster.listen", "%v", err)
	}
	if len(cl.Routes) == 0 {
		es.Add("nats.cluster.routes", "is required: the route URLs of the other nodes (nats://host:6222)")
	}
	for i, r := range cl.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" || u.Port() == "" || (u.Scheme != "nats" && u.Scheme != "nats-route" && u.Scheme != "tls") {
			es.Add(config.Index("nats.cluster.routes", i), "%q is not a route URL like nats://host:6222", r)
		}
	}
	if cl.TLS != nil && (cl.TLS.CertFile == "" || cl.TLS.KeyFile == "") {
		es.Add("nats.cluster.tls", "certFile and keyFile are both required")
	}
	// every node serves and writes the same data: a store or history of
	// its own would hold only the edges whose consumers it leads
	if c.Store.Backend != "mongo" {
		es.Add("store.backend", "%q keeps the store on one node: a cluster of hubs needs the mongo backend (one MongoDB for every node)", c.Store.Backend)
	}
	if c.History.Backend != history.BackendRemote {
		es.Add("history.backend", "%q keeps the history on one node: a cluster of hubs needs the remote backend (one time-series engine for every node)", c.History.Backend)
	}
	if c.NATS.ServerName == DefaultServerName {
		es.Add("nats.serverName", "must be set, and unique, on every node of a cluster (the default %q would be the same on every node)", DefaultServerName)
	}
	if n := cl.size(); c.Ingest.Replicas > n {
		es.Add("ingest.replicas", "%d is more than the %d nodes of the cluster (this one and nats.cluster.routes)", c.Ingest.Replicas, n)
	}
	if c.Ingest.Replicas > maxReplicas {
		es.Add("ingest.replicas", "%d is more than JetStream's %d", c.Ingest.Replicas, maxReplicas)
	}
}

// brokerCluster is the broker's view of nats.cluster (nil: standalone).
func (c *Config) brokerCluster() *broker.ClusterOptions {
	cl := c.NATS.Cluster
	if cl == nil {
		return nil
	}
	return &broker.ClusterOptions{Name: cl.Name, Listen: cl.Listen.HostPort(), Routes: cl.Routes, TLS: cl.TLS}
}

// clusterStartTimeout bounds how long a cluster node waits for the other
// nodes at start (JetStream needs a majority, and a replicated stream as
// many nodes as its replicas).
const clusterStartTimeout = 2 * time.Minute

// startIngest creates the applier's streams; on a cluster node it first
// waits for JetStream, and retries while the other nodes start.
func startIngest(ctx context.Context, h *Hub, o ingest.Options) (*ingest.Applier, error) {
	if h.cfg.NATS.Cluster == nil && h.cfg.NATS.External == nil {
		return ingest.New(ctx, h.nc, h.st, o)
	}
	o.Replicas = h.cfg.Ingest.Replicas
	o.Leads = h.br.LeadsConsumer
	o.Placement = h.cfg.edgePlacement()
	wctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	defer cancel()
	if err := h.br.WaitJetStream(wctx); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		// a request lost while the nodes meet would hold a longer
		// context to its end: each attempt gets its own
		actx, cancel := context.WithTimeout(wctx, 10*time.Second)
		a, err := ingest.New(actx, h.nc, h.st, o)
		cancel()
		if err == nil {
			return a, nil
		}
		if wctx.Err() != nil {
			return nil, fmt.Errorf("create the ingest streams with %d replicas (are %d nodes up?): %w", o.Replicas, o.Replicas, err)
		}
		h.log.Info("waiting for the cluster's nodes to create the ingest streams", "attempt", attempt, "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-wctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
