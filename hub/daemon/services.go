package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/gridedge/gridedge/hub/alerts"
	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/convert"
	"github.com/gridedge/gridedge/hub/incidents"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/vsensors"
	"github.com/gridedge/gridedge/hub/weather"
	"github.com/gridedge/gridedge/shared/config"
)

// ServicesConfig is the services section of the hub config: the seed's
// services that run beside the store (docs/services.md).
type ServicesConfig struct {
	// VSensors computes the seed's virtual sensors (3.2.5) from the change feed.
	VSensors vsensors.Config `json:"vsensors,omitempty"`
	// Converters serves the data-model converters (3.2.3) on NATS and
	// POST /api/v2/converters/{id}/test.
	Converters convert.Config `json:"converters,omitempty"`
	// Incidents calls the workflows of inserted incidents (3.2.4) and sends
	// their e-mail and webhook notifications (hub/incidents).
	Incidents incidents.Config `json:"incidents,omitempty"`
	// Alerts evaluates alert rules over windows of the history and the
	// bad-data rules at the hub, raising incidents (hub/alerts).
	Alerts alerts.Config `json:"alerts,omitempty"`
	// Weather serves the seed's weather routes (3.2.1) and refreshes its
	// sites into the weather layer (hub/weather).
	Weather weather.Config `json:"weather,omitempty"`
}

// Defaults fills unset fields.
func (c *ServicesConfig) Defaults() {
	c.VSensors.Defaults()
	c.Converters.Defaults()
	c.Incidents.Defaults()
	c.Alerts.Defaults()
	c.Weather.Defaults()
}

// Validate adds the problems of c to es, under path.
func (c *ServicesConfig) Validate(path string, es *config.Errors) {
	c.VSensors.Validate(config.Join(path, "vsensors"), es)
	if c.VSensors.Enabled && len(c.VSensors.Converters) > 0 && !c.Converters.Enabled {
		es.Add(config.Join(path, "vsensors.converters"), "needs the converters service (services.converters.enabled)")
	}
	validateIncidents(c, path, es)
	validateAlerts(c, path, es)
	validateWeather(c, path, es)
	if c.Converters.Enabled {
		p := config.Join(path, "converters")
		if err := store.CheckName("layer", c.Converters.Layer); err != nil {
			es.Add(config.Join(p, "layer"), "%v", err)
		} else if api.ReservedLayer(c.Converters.Layer) {
			es.Add(config.Join(p, "layer"), "layer %q is reserved", c.Converters.Layer)
		}
		if err := store.CheckName("collection", c.Converters.Collection); err != nil {
			es.Add(config.Join(p, "collection"), "%v", err)
		}
	}
}

// services are the running services.
type services struct {
	converters *convert.Registry
	vsensors   *vsensors.Service
	incidents  *incidents.Service
	alerts     *alerts.Service
	weather    *weather.Service
}

// startConverters makes the converter registry (before the REST API,
// which serves its test route) and its layer.
func startConverters(ctx context.Context, h *Hub) error {
	cfg := h.cfg.Services.Converters
	if !cfg.Enabled {
		return nil
	}
	h.svc.converters = convert.NewRegistry(h.st, cfg, h.log.With("service", "converters"))
	if err := h.svc.converters.EnsureCollection(ctx); err != nil {
		return fmt.Errorf("start the converters: %w", err)
	}
	return nil
}

// convertersAPI is what the REST API tests converters with (nil: off).
func (h *Hub) convertersAPI() api.Converters {
	if h.svc.converters == nil {
		return nil
	}
	return h.svc.converters
}

// startServices starts the NATS side of the services; the goroutines end
// with runCtx and are waited for by Close.
func startServices(h *Hub, runCtx context.Context) error {
	if err := startIncidents(h, runCtx); err != nil {
		return err
	}
	if err := startAlerts(h, runCtx); err != nil {
		return err
	}
	if err := startWeather(h, runCtx); err != nil {
		return err
	}
	if r := h.svc.converters; r != nil {
		resp, err := r.Serve(h.nc, h.cfg.Domain)
		if err != nil {
			return fmt.Errorf("start the converters: %w", err)
		}
		h.wg.Add(1)
		go func() { // answers in flight end before the hub closes its connection
			defer h.wg.Done()
			<-runCtx.Done()
			resp.Stop()
		}()
	}
	cfg := h.cfg.Services.VSensors
	if !cfg.Enabled {
		return nil
	}
	opts := vsensors.Options{Config: cfg, Store: store.WithChanges(h.st, h.publishChange), NC: h.nc,
		Domain: h.cfg.Domain, Logger: h.log.With("service", "vsensors"), Instance: h.cfg.NATS.ServerName,
		LeaseReplicas: h.leaseReplicas()}
	if h.svc.converters != nil {
		opts.Converter = h.svc.converters
	}
	vs, err := vsensors.New(opts)
	if err != nil {
		return err
	}
	h.svc.vsensors = vs
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := vs.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case h.errc <- err:
			default:
				h.log.Error("virtual sensors stopped", "err", err)
			}
		}
	}()
	return nil
}

// VSensors is the virtual-sensor service (nil when off).
func (h *Hub) VSensors() *vsensors.Service { return h.svc.vsensors }

// leaseReplicas is the replica count of the services' lease buckets
// (alerts, virtual sensors, weather): the ingest streams', so that on a
// cluster a lease outlives the node storing its bucket (hub/lease).
func (h *Hub) leaseReplicas() int {
	if h.cfg.NATS.Cluster == nil {
		return 1
	}
	return h.cfg.Ingest.Replicas
}
