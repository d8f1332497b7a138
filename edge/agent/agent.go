// Package agent wires the edge agent: pollers for the slaves of the SETTINGS
// document, the store-and-forward buffer, the embedded leaf-node NATS server,
// the forwarder towards the hub, and live readings for local apps.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/poller"
	edgesync "github.com/gridedge/gridedge/edge/sync"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/version"
)

// Agent is a running edge agent.
type Agent struct {
	cfg     *Config
	log     *slog.Logger
	buf     *buffer.Buffer
	leaf    *edgesync.Leaf
	nc      *nats.Conn
	fwd     *edgesync.Forwarder
	clients map[string]*modbus.Client
	pollers []*poller.Poller
	started time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts the agent; stop it with Close.
func Start(ctx context.Context, cfg *Config, log *slog.Logger) (_ *Agent, err error) {
	a := &Agent{cfg: cfg, log: log, clients: map[string]*modbus.Client{}, started: time.Now()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.buf, err = buffer.Open(filepath.Join(cfg.DataDir, "buffer.db"), buffer.Options{
		MaxUpdates: cfg.Buffer.MaxUpdates, MaxBytes: cfg.Buffer.MaxBytes, MaxAge: cfg.Buffer.MaxAge.Std(),
		Overflow: cfg.Buffer.Overflow, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	listen := cfg.NATS.Listen
	if listen == "off" {
		listen = ""
	}
	a.leaf, err = edgesync.StartLeaf(edgesync.LeafOptions{
		Edge: cfg.Edge.ID, HubURL: cfg.Hub.URL, User: cfg.Hub.User, Password: cfg.Hub.Password,
		LocalListen: listen, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if a.nc, err = a.leaf.Connect("gridedge-agent-"+cfg.Edge.ID, cfg.Edge.ID); err != nil {
		return nil, err
	}
	a.fwd = edgesync.NewForwarder(a.nc, a.buf, edgesync.ForwarderOptions{
		Edge: cfg.Edge.ID, Domain: cfg.Domain, MaxBatch: cfg.Forwarder.MaxBatch,
		AckTimeout: cfg.Forwarder.AckTimeout.Std(), Logger: log,
	})

	s := cfg.Settings
	n := len(s.ModbusSlaves)
	for i := range s.ModbusSlaves {
		sl := &s.ModbusSlaves[i]
		u := SlaveURL(sl)
		c, ok := a.clients[u]
		if !ok {
			timeout := time.Second
			if sl.Timeout > 0 {
				timeout = time.Duration(sl.Timeout * float64(time.Second))
			}
			// one client per bus/host: its requests are serialised, which is
			// what a half-duplex RS-485 bus or a TCP gateway needs
			if c, err = modbus.NewClient(u, modbus.ClientOptions{Timeout: timeout, Logger: log}); err != nil {
				return nil, fmt.Errorf("slave %d (%s): %w", i, u, err)
			}
			a.clients[u] = c
		}
		period := time.Duration(s.PeriodOf(sl) * float64(time.Second))
		a.pollers = append(a.pollers, poller.New(c, poller.Options{
			Name:     fmt.Sprintf("%s#%d", u, sl.SlaveID),
			Slave:    sl,
			Vars:     s.ModbusMaps[sl.Map],
			Document: cfg.DocumentOf(i),
			Period:   period,
			Offset:   period * time.Duration(i) / time.Duration(max(n, 1)), // stagger
			Sink:     a.store,
			Logger:   log,
		}))
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		_ = a.fwd.Run(runCtx)
	}()
	for _, p := range a.pollers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			_ = p.Run(runCtx)
		}()
	}
	if cfg.Buffer.MaxAge > 0 {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.trimLoop(runCtx)
		}()
	}
	log.Info("edge agent started", "version", version.String(), "edge", cfg.Edge.ID, "hub", cfg.Hub.URL,
		"slaves", len(a.pollers), "local_nats", listen, "data", cfg.DataDir)
	return a, nil
}

// store is the pollers' sink: durably buffer, then publish live readings.
func (a *Agent) store(ctx context.Context, updates []model.Update) error {
	if _, err := a.buf.Append(updates...); err != nil {
		return err
	}
	for i := range updates {
		u := &updates[i]
		data, err := json.Marshal(u)
		if err != nil {
			continue
		}
		_ = a.nc.Publish(subject.Live(a.cfg.Domain, a.cfg.Edge.ID, u.Layer, u.Collection, u.ID), data)
	}
	return nil
}

func (a *Agent) trimLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := a.buf.TrimAge(now); err != nil {
				a.log.Error("trimming old updates failed", "err", err)
			}
		}
	}
}

// Status is a snapshot of the agent's health.
type Status struct {
	// Edge is the edge id.
	Edge string `json:"edge"`
	// Version is the agent's version.
	Version string `json:"version"`
	// Uptime is seconds since start.
	Uptime float64 `json:"uptime"`
	// HubConnected tells whether the leaf link is up.
	HubConnected bool `json:"hub_connected"`
	// Buffer describes the store-and-forward queue.
	Buffer buffer.Stats `json:"buffer"`
	// Forwarder counts what was sent.
	Forwarder edgesync.ForwarderStats `json:"forwarder"`
	// Slaves describe polling per device.
	Slaves []poller.Stats `json:"slaves"`
}

// Status returns the agent's health.
func (a *Agent) Status() (Status, error) {
	st := Status{Edge: a.cfg.Edge.ID, Version: version.String(), Uptime: time.Since(a.started).Seconds(),
		HubConnected: a.leaf.HubConnected(), Forwarder: a.fwd.Stats()}
	var err error
	st.Buffer, err = a.buf.Stats()
	for _, p := range a.pollers {
		st.Slaves = append(st.Slaves, p.Stats())
	}
	return st, err
}

// Close stops pollers and the forwarder, then the server and the buffer.
func (a *Agent) Close() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	for _, c := range a.clients {
		c.Close()
	}
	if a.nc != nil {
		a.nc.Close()
	}
	if a.leaf != nil {
		a.leaf.Shutdown()
	}
	if a.buf != nil {
		a.buf.Close()
	}
}

// Run starts the agent and runs it until ctx is done.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	a, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	<-ctx.Done()
	log.Info("edge agent stopping")
	return nil
}
