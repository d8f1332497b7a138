package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/gridedge/gridedge/hub/alerts"
	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/incidents"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// validateIncidents checks services.incidents: the service's own checks
// and its layer and collection names.
func validateIncidents(c *ServicesConfig, path string, es *config.Errors) {
	p := config.Join(path, "incidents")
	c.Incidents.Validate(p, es)
	if !c.Incidents.Enabled {
		return
	}
	if err := store.CheckName("layer", c.Incidents.Layer); err != nil {
		es.Add(config.Join(p, "layer"), "%v", err)
	} else if api.ReservedLayer(c.Incidents.Layer) {
		es.Add(config.Join(p, "layer"), "layer %q is reserved", c.Incidents.Layer)
	}
	if err := store.CheckName("collection", c.Incidents.Collection); err != nil {
		es.Add(config.Join(p, "collection"), "%v", err)
	}
}

// startIncidents starts the incidents service on the hub's connection and
// store (writes publish change events); it ends with runCtx and is waited
// for by Close. Its counters join the hub's metrics registry.
func startIncidents(h *Hub, runCtx context.Context) error {
	cfg := h.cfg.Services.Incidents
	if !cfg.Enabled {
		return nil
	}
	smtp := h.cfg.Notify.SMTP
	svc, err := incidents.New(incidents.Options{Config: cfg, Store: store.WithChanges(h.st, h.publishChange),
		NC: h.nc, Domain: h.cfg.Domain, SMTP: &smtp, Logger: h.log.With("service", "incidents")})
	if err != nil {
		return err
	}
	if h.metrics != nil {
		for _, c := range svc.Collectors() {
			if err := h.metrics.Registry().Register(c); err != nil {
				return err
			}
		}
	}
	h.svc.incidents = svc
	// incidents written once Start returns are captured by the work queue
	if err := runUntilReady(h, runCtx, "incidents", svc.Run); err != nil {
		return err
	}
	return serveNATS(h, runCtx, "incidents", func() (stopper, error) { return svc.Serve(h.nc) })
}

// runUntilReady runs a service until runCtx ends (Close waits for it) and
// returns once it is ready, or with the error that stopped it before; a
// later error stops the hub (or is logged when the hub is already
// stopping).
func runUntilReady(h *Hub, runCtx context.Context, name string, run func(context.Context, chan<- struct{}) error) error {
	ready := make(chan struct{})
	done := make(chan error, 1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		err := run(runCtx, ready)
		done <- err
		if err != nil && !errors.Is(err, context.Canceled) {
			select {
			case h.errc <- err:
			default:
				h.log.Error(name+" service stopped", "err", err)
			}
		}
	}()
	select {
	case <-ready:
		return nil
	case err := <-done:
		return err
	}
}

// stopper is a service's NATS responder.
type stopper interface{ Stop() }

// serveNATS starts a service's <domain>.<service>.<action> responders;
// they stop, answering what they received, when runCtx ends, before the
// hub closes its connection.
func serveNATS(h *Hub, runCtx context.Context, name string, serve func() (stopper, error)) error {
	r, err := serve()
	if err != nil {
		return fmt.Errorf("start the %s requests: %w", name, err)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		<-runCtx.Done()
		r.Stop()
	}()
	return nil
}

// Incidents is the incidents service (nil when off).
func (h *Hub) Incidents() *incidents.Service { return h.svc.incidents }

// validateAlerts checks services.alerts: its rules and its incidents
// layer and collection names.
func validateAlerts(c *ServicesConfig, path string, es *config.Errors) {
	p := config.Join(path, "alerts")
	c.Alerts.Validate(p, es)
	if !c.Alerts.Enabled {
		return
	}
	if err := store.CheckName("layer", c.Alerts.Layer); err != nil {
		es.Add(config.Join(p, "layer"), "%v", err)
	} else if api.ReservedLayer(c.Alerts.Layer) {
		es.Add(config.Join(p, "layer"), "layer %q is reserved", c.Alerts.Layer)
	}
	if err := store.CheckName("collection", c.Alerts.Collection); err != nil {
		es.Add(config.Join(p, "collection"), "%v", err)
	}
}

// startAlerts starts the alert rules on the hub's connection, store (writes
// publish change events, so hub/incidents sees the incidents) and history;
// it ends with runCtx and is waited for by Close.
func startAlerts(h *Hub, runCtx context.Context) error {
	cfg := h.cfg.Services.Alerts
	if !cfg.Enabled {
		return nil
	}
	opts := alerts.Options{Config: cfg, Store: store.WithChanges(h.st, h.publishChange), NC: h.nc,
		Domain: h.cfg.Domain, Instance: h.cfg.NATS.ServerName, LeaseReplicas: h.leaseReplicas(), Logger: h.log.With("service", "alerts")}
	if h.hist != nil {
		opts.History = h.hist
	}
	svc, err := alerts.New(opts)
	if err != nil {
		return err
	}
	h.svc.alerts = svc
	if err := runUntilReady(h, runCtx, "alerts", svc.Run); err != nil {
		return err
	}
	return serveNATS(h, runCtx, "alerts", func() (stopper, error) { return svc.Serve(h.nc) })
}

// Alerts is the alerts service (nil when off).
func (h *Hub) Alerts() *alerts.Service { return h.svc.alerts }
