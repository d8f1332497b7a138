package daemon

import (
	"context"
	"errors"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/federation"
	"github.com/gridedge/gridedge/shared/config"
)

// validateFederation checks the federation section (docs/federation.md).
func validateFederation(c *Config, es *config.Errors) {
	err := c.Federation.Validate("federation", c.Domain, api.ReservedLayer)
	var fes config.Errors
	if errors.As(err, &fes) {
		*es = append(*es, fes...)
	} else if err != nil {
		es.Add("federation", "%v", err)
	}
	if c.Federation.Enabled() {
		for i, p := range c.Federation.Peers {
			if p.URL == "" && !c.NATS.LeafListen.Enabled() {
				es.Add(config.Join(config.Index("federation.peers", i), "url"),
					"peer %q has no url, so it connects to this hub's leaf-node listener: set nats.leafListen", p.Name)
			}
		}
	}
}

// brokerFederation returns the broker options of the federation: the
// JetStream domain (the deployment's domain, set only with peers, so a hub
// without federation keeps its JetStream as it was), the users of the peers
// that connect here and the links to the others.
func (c *Config) brokerFederation() (jsDomain string, peers []broker.LeafPeer, remotes []broker.LeafRemote) {
	if !c.Federation.Enabled() {
		return "", nil, nil
	}
	for _, u := range c.Federation.PeerUsers(c.Domain) {
		peers = append(peers, broker.LeafPeer{User: u.User, Password: u.Password, Publish: u.Publish, Subscribe: u.Subscribe})
	}
	for _, p := range c.Federation.Peers {
		if p.URL == "" {
			continue
		}
		r := broker.LeafRemote{URL: p.URL, User: p.Credentials.User, Password: p.Credentials.Password}
		if p.TLS != nil {
			r.CAFile, r.CertFile, r.KeyFile = p.TLS.CAFile, p.TLS.CertFile, p.TLS.KeyFile
		}
		remotes = append(remotes, r)
	}
	return c.Domain, peers, remotes
}

// wrapFederation makes the imported layers read-only for every writer but
// the importer, which keeps the store as it was.
func wrapFederation(h *Hub) {
	if !h.cfg.Federation.Enabled() {
		return
	}
	h.fedStore = h.st
	h.st = federation.ReadOnly(h.st, h.cfg.Federation.Imported())
}

// startFederation creates the federation streams and runs the exporters
// and importers until runCtx ends.
func startFederation(ctx, runCtx context.Context, h *Hub) error {
	if !h.cfg.Federation.Enabled() {
		return nil
	}
	svc, err := federation.New(ctx, federation.Options{
		Domain: h.cfg.Domain, Config: h.cfg.Federation, NC: h.nc, Store: h.fedStore,
		Changes: h.publishChange, LinkUp: h.br.LeafRemoteConnected, LeafInterest: h.br.LeafInterest,
		DirectDelivered: h.br.DirectDelivered, History: h.hist, Logger: h.log,
	})
	if err != nil {
		return err
	}
	if h.metrics != nil {
		if err := h.metrics.Registry().Register(svc.Collector()); err != nil {
			return err
		}
	}
	h.fed = svc
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := svc.Run(runCtx); err != nil {
			h.errc <- err
		}
	}()
	return nil
}
