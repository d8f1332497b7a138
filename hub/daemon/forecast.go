package daemon

import (
	"fmt"
	"path/filepath"

	"github.com/gridedge/gridedge/hub/forecast"
	"github.com/gridedge/gridedge/hub/store"
)

// startForecast starts the forecasting service when the config enables
// it: REST under /api/v2/forecast on the hub's HTTP port, NATS on the
// hub's in-process connection, models in the hub's store (system/
// forecastModels…, shared by the hubs of a cluster); the models of an older
// <dataDir>/forecast/forecast.db are moved there once.
func startForecast(h *Hub) error {
	cfg := h.cfg
	if !cfg.Forecast.On() {
		return nil
	}
	opts := forecast.Options{Config: cfg.Forecast, Store: store.WithChanges(h.st, h.publishChange), Instance: cfg.NATS.ServerName,
		DataDir: filepath.Join(cfg.DataDir, "forecast"), History: h.hist, Logger: h.log.With("service", "forecast")}
	if cfg.Store.Backend == "mongo" {
		opts.MongoURI = cfg.Store.MongoURI
	}
	if h.svc.converters != nil { // http stages may name a converter
		opts.Converters = h.svc.converters
	}
	fc, err := forecast.New(opts)
	if err != nil {
		return fmt.Errorf("start the forecast service: %w", err)
	}
	h.fc = fc
	if h.httpSrv != nil {
		h.httpSrv.Handler = fc.Mount(h.httpSrv.Handler, h.auth)
	}
	if h.nc != nil {
		if h.fcNATS, err = fc.ServeNATS(h.nc, cfg.Domain); err != nil {
			return fmt.Errorf("start the forecast service: %w", err)
		}
	}
	return nil
}
