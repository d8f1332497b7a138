package daemon

import (
	"context"
	"fmt"
	"net"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/iot"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/version"
)

// validateIoT checks the iot section against the rest of the config: its
// pseudo-edge must not be a configured edge (their high-water marks would
// mix).
func validateIoT(c *Config, es *config.Errors) {
	c.IoT.Validate("iot", es)
	if !c.IoT.Enabled {
		return
	}
	for _, e := range c.Edges {
		if e.ID == c.IoT.Edge {
			es.Add("iot.edge", "%q is also a configured edge; choose another pseudo-edge name", c.IoT.Edge)
		}
	}
	if len(c.IoT.Converters) > 0 && !c.Services.Converters.Enabled {
		es.Add("iot.converters", "needs the converters service (services.converters.enabled)")
	}
	if c.IoT.Enabled && !c.HTTP.Listen.Enabled() && c.IoT.MQTT.URL == "" {
		es.Add("iot.enabled", "needs the HTTP listener (http.listen) or iot.mqtt.url: the device bindings have nowhere to listen")
	}
}

// startIoT starts the device-ingestion service when the config enables
// it: the provisioning API and POST /iot/json on the hub's HTTP port, the
// MQTT binding when iot.mqtt.url is set, and the bad-data rules' timer;
// its goroutines end with runCtx and are waited for by Close.
func startIoT(ctx, runCtx context.Context, h *Hub) error {
	cfg := h.cfg.IoT
	if !cfg.Enabled {
		return nil
	}
	port := ""
	if h.httpLn != nil {
		_, port, _ = net.SplitHostPort(h.httpLn.Addr().String())
	}
	// NC: the hub follows the provisioning changes of the other hubs
	// sharing its store (replicas)
	opts := iot.Options{Config: cfg, Store: h.st, Changes: h.publishChange, Reserved: api.ReservedLayer,
		Version: version.String(), Port: port, Logger: h.log.With("service", "iot"), NC: h.nc, Domain: h.cfg.Domain}
	if h.svc.converters != nil {
		opts.Converter = h.svc.converters
	}
	if h.cfg.NATS.Cluster != nil {
		// each node numbers its own batches (a pseudo-edge per node)
		opts.Instance = h.cfg.NATS.ServerName
	}
	svc, err := iot.New(ctx, opts)
	if err != nil {
		return fmt.Errorf("start the iot service: %w", err)
	}
	if h.httpSrv != nil {
		h.httpSrv.Handler = svc.Mount(h.httpSrv.Handler, h.auth)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := svc.Run(runCtx); err != nil {
			h.errc <- fmt.Errorf("iot service: %w", err)
		}
	}()
	h.iot = svc
	return nil
}
