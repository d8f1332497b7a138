package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/amqp"
	"github.com/gridedge/gridedge/hub/bridge/kafka"
	"github.com/gridedge/gridedge/hub/bridge/mqtt"
	"github.com/gridedge/gridedge/hub/bridge/webhook"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// defaultBridges fills the unset fields of every bridge.
func (c *Config) defaultBridges() {
	for i := range c.Bridges {
		c.Bridges[i].Defaults()
	}
}

// validateBridges checks the bridges section: each bridge's own checks,
// unique names, layer and collection names that are not reserved, a
// converter only with services.converters, and no outbound bridge of the
// incidents layer (its change events are the incidents service's work
// queue, which a second stream cannot capture).
func validateBridges(c *Config, es *config.Errors) {
	names := map[string]bool{}
	for i := range c.Bridges {
		b := &c.Bridges[i]
		p := config.Index("bridges", i)
		b.Validate(p, es)
		if names[b.Name] {
			es.Add(config.Join(p, "name"), "bridge %q is listed twice", b.Name)
		}
		names[b.Name] = true
		checkLayer := func(path, layer string) {
			if err := store.CheckName("layer", layer); err != nil {
				es.Add(path, "%v", err)
			} else if api.ReservedLayer(layer) {
				es.Add(path, "layer %q is reserved for the hub and cannot be bridged", layer)
			}
		}
		for j, l := range b.Layers {
			lp := config.Index(config.Join(p, "layers"), j)
			checkLayer(lp, l)
			if inc := c.Services.Incidents; inc.Enabled && l == inc.Layer {
				es.Add(lp, "layer %q holds the incidents, whose change events services.incidents takes; it cannot be bridged out", l)
			}
		}
		if b.Direction == bridge.In && b.Layer != "" {
			checkLayer(config.Join(p, "layer"), b.Layer)
			if err := store.CheckName("collection", b.Collection); err != nil {
				es.Add(config.Join(p, "collection"), "%v", err)
			}
		}
		if b.Converter != "" && !c.Services.Converters.Enabled {
			es.Add(config.Join(p, "converter"), "needs services.converters.enabled")
		}
	}
}

// startBridges starts the configured bridges: the stream of the outbound
// bridges' change events, then each bridge on the hub's connection and
// store (inbound writes publish change events and enter the history); they
// end with runCtx and are waited for by Close. An outbound bridge captures
// change events once Start returns.
func startBridges(ctx, runCtx context.Context, h *Hub) error {
	var layers, names []string
	for _, b := range h.cfg.Bridges {
		if b.Direction == bridge.Out {
			layers = append(layers, b.Layers...)
			names = append(names, b.Name)
		}
	}
	replicas := h.cfg.Ingest.Replicas
	if err := bridge.EnsureStream(ctx, h.nc, h.cfg.Domain, layers, names, replicas); err != nil {
		return err
	}
	var conv bridge.Converter
	if h.svc.converters != nil {
		conv = h.svc.converters
	}
	for _, b := range h.cfg.Bridges {
		log := h.log.With("service", "bridges")
		run, err := newBridge(ctx, h, b, conv, replicas)
		if err != nil {
			return fmt.Errorf("start bridge %s: %w", b.Name, err)
		}
		ready := make(chan struct{})
		done := make(chan error, 1)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			err := run(runCtx, ready)
			done <- err
			if err != nil && !errors.Is(err, context.Canceled) {
				select {
				case h.errc <- fmt.Errorf("bridge %s: %w", b.Name, err):
				default:
					log.Error("bridge stopped", "bridge", b.Name, "err", err)
				}
			}
		}()
		select {
		case <-ready:
		case err := <-done:
			return fmt.Errorf("start bridge %s: %w", b.Name, err)
		}
	}
	return nil
}

// newBridge makes the run function of one bridge; run closes ready once
// the bridge is set up.
func newBridge(ctx context.Context, h *Hub, b bridge.Config, conv bridge.Converter, replicas int) (func(context.Context, chan<- struct{}) error, error) {
	log := h.log.With("service", "bridges")
	if b.Direction == bridge.Out {
		var sink bridge.Sink
		switch b.Type {
		case bridge.TypeAMQP:
			sink = amqp.NewPublisher(b)
		case bridge.TypeKafka:
			p, err := kafka.NewProducer(b)
			if err != nil {
				return nil, err
			}
			sink = p
		case bridge.TypeWebhook:
			sink = webhook.New(b, nil)
		case bridge.TypeMQTT:
			p, err := mqtt.NewPublisher(b)
			if err != nil {
				return nil, err
			}
			sink = p
		default:
			return nil, fmt.Errorf("unknown bridge type %q", b.Type)
		}
		o, err := bridge.NewOutbound(bridge.OutboundOptions{Config: b, NC: h.nc, Domain: h.cfg.Domain, Store: h.st,
			Converters: conv, Sink: sink, Replicas: replicas, Logger: log})
		if err != nil {
			sink.Close()
			return nil, err
		}
		return o.Run, nil
	}
	in, err := bridge.NewInbound(ctx, b, store.WithChanges(h.st, h.publishChange), conv, log)
	if err != nil {
		return nil, err
	}
	switch b.Type {
	case bridge.TypeAMQP:
		c := amqp.NewConsumer(b, in, log)
		return func(ctx context.Context, ready chan<- struct{}) error { close(ready); return c.Run(ctx) }, nil
	case bridge.TypeKafka:
		c, err := kafka.NewConsumer(b, in, log)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, ready chan<- struct{}) error { close(ready); return c.Run(ctx) }, nil
	default:
		return nil, fmt.Errorf("bridge type %q has no inbound direction", b.Type)
	}
}
