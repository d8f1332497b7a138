package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/weather"
	"github.com/gridedge/gridedge/shared/config"
)

// validateWeather checks services.weather: the service's own checks and
// its layer name.
func validateWeather(c *ServicesConfig, path string, es *config.Errors) {
	p := config.Join(path, "weather")
	c.Weather.Validate(p, es)
	if !c.Weather.Enabled {
		return
	}
	if err := store.CheckName("layer", c.Weather.Layer); err != nil {
		es.Add(config.Join(p, "layer"), "%v", err)
	} else if api.ReservedLayer(c.Weather.Layer) {
		es.Add(config.Join(p, "layer"), "layer %q is reserved", c.Weather.Layer)
	}
}

// startWeather starts the weather service (seed 3.2.1) when enabled: its
// REST routes on the hub's HTTP port with the hub's auth, and the refresh
// of the configured sites writing through the hub's store (history and
// change events). The refresh ends with runCtx and is waited for by Close.
func startWeather(h *Hub, runCtx context.Context) error {
	cfg := h.cfg.Services.Weather
	if !cfg.Enabled {
		return nil
	}
	svc, err := weather.New(weather.Options{Config: cfg, Store: store.WithChanges(h.st, h.publishChange),
		Logger: h.log.With("service", "weather"), NC: h.nc, Domain: h.cfg.Domain, Instance: h.cfg.NATS.ServerName,
		LeaseReplicas: h.leaseReplicas()})
	if err != nil {
		return fmt.Errorf("start the weather service: %w", err)
	}
	if err := svc.EnsureLayer(runCtx); err != nil {
		return fmt.Errorf("start the weather service: %w", err)
	}
	h.svc.weather = svc
	if h.httpSrv != nil {
		h.httpSrv.Handler = svc.Mount(h.httpSrv.Handler, h.auth)
	}
	if err := serveNATS(h, runCtx, "weather", func() (stopper, error) { return svc.Serve(h.nc) }); err != nil {
		return err
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer svc.Close()
		if err := svc.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			h.log.Error("weather service stopped", "err", err)
		}
	}()
	return nil
}

// Weather is the weather service (nil when off).
func (h *Hub) Weather() *weather.Service { return h.svc.weather }
