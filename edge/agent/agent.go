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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/edge/bus"
	"github.com/gridedge/gridedge/edge/iot"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/edge/uplink"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/version"
)

// Agent is a running edge agent.
type Agent struct {
	cfg     *Config
	log     *slog.Logger
	buf     *buffer.Buffer
	leaf    *uplink.Leaf
	nc      *nats.Conn
	fwd     *uplink.Forwarder
	tr      *transform.Transformer
	bd      *baddata.Engine
	vs      *vsensor.Engine
	bridge  atomic.Pointer[bridgeRun] // nil without an mqtt section
	pipe    *pipeline
	started time.Time
	ctl     controlState
	writes  writeLimiter // control writes without an MQTT bridge

	// mapMu serialises map swaps (push, rollback, automatic rollback).
	mapMu sync.Mutex
	// mu guards what a swap changes and closing.
	mu       sync.RWMutex
	settings *settings.Settings // the running SETTINGS
	raw      []byte             // its canonical JSON
	mapInfo  control.MapInfo    // its version and pusher
	prev     *storedMap         // what map.rollback restores
	slaves   []*slaveRun
	clients  map[string]*modbus.Client
	buses    map[string]*bus.Lock // one per client: a bus or gateway
	closing  bool

	metricsAddr string // the metrics listener's, "" when off

	opcuaSources []*opcua.Source // one per opcua server (opcua.go)
	devices      *iot.Service    // nil without a devices section (iot.go)

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts the agent; stop it with Close.
func Start(ctx context.Context, cfg *Config, log *slog.Logger) (_ *Agent, err error) {
	a := &Agent{cfg: cfg, log: log, clients: map[string]*modbus.Client{}, buses: map[string]*bus.Lock{}, started: time.Now()}
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
	a.leaf, err = uplink.StartLeaf(uplink.LeafOptions{
		Edge: cfg.Edge.ID, HubURL: cfg.Hub.URL, HubURLs: cfg.Hub.URLs, User: cfg.Hub.User, Password: cfg.Hub.Password,
		CAFile: cfg.Hub.CAFile, ServerName: cfg.Hub.ServerName,
		CertFile: cfg.Hub.CertFile, KeyFile: cfg.Hub.KeyFile, RequireTLS: cfg.Hub.RequireTLS, Compression: cfg.Hub.Compression, LocalTLS: cfg.NATS.TLS,
		LocalListen: listen, Domain: cfg.Domain, LocalUser: cfg.NATS.User, LocalPassword: cfg.NATS.Password,
		AnonymousRead: cfg.NATS.AnonymousRead == nil || *cfg.NATS.AnonymousRead, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if a.nc, err = a.leaf.Connect("gridedge-agent-"+cfg.Edge.ID, cfg.Edge.ID); err != nil {
		return nil, err
	}
	a.fwd = uplink.NewForwarder(a.nc, a.buf, uplink.ForwarderOptions{
		Edge: cfg.Edge.ID, Domain: cfg.Domain, MaxBatch: cfg.Forwarder.MaxBatch,
		MaxBytesPerSecond: cfg.Forwarder.MaxBytesPerSecond, LinkUp: a.leaf.HubConnected,
		AckTimeout: cfg.Forwarder.AckTimeout.Std(), Linger: cfg.Forwarder.linger(), Logger: log,
	})

	if a.tr, err = transform.New(&cfg.Mappings); err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	if a.bd, err = baddata.New(cfg.Rules, baddata.Options{}); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if cfg.VirtualSensors != nil {
		if a.vs, err = vsensor.New(cfg.VirtualSensors); err != nil {
			return nil, fmt.Errorf("virtualSensors: %w", err)
		}
	}
	// the map of the config file, or the one pushed since (see mapstore.go)
	s, raw, info, prev := a.initialMap()
	a.pipe = &pipeline{tr: a.tr, bd: a.bd, vs: a.vs, buf: a.buf, live: leafBus{a.leaf, a.nc},
		domain: cfg.Domain, edge: cfg.Edge.ID, now: time.Now, log: log, status: bridgeStatus{a}}
	a.prev = prev

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.mapMu.Lock()
	_, err = a.swap(runCtx, s, raw, info)
	a.mapMu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := a.serveControl(runCtx); err != nil {
		return nil, err
	}
	if err := a.serveMetrics(runCtx); err != nil {
		return nil, err
	}
	if err := a.startOPCUA(runCtx); err != nil {
		return nil, err
	}
	if err := a.startDevices(runCtx); err != nil {
		return nil, err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		_ = a.fwd.Run(runCtx)
	}()
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		a.heartbeatLoop(runCtx)
	}()
	go func() {
		defer a.wg.Done()
		a.tickLoop(runCtx)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.trimLoop(runCtx)
	}()
	log.Info("edge agent started", "version", version.String(), "edge", cfg.Edge.ID, "hub", cfg.Hub.URL,
		"slaves", len(s.ModbusSlaves), "map", info.Version, "map_source", info.Source, "local_nats", listen, "data", cfg.DataDir)
	return a, nil
}

// maxInFlight is the largest maxInFlight of the slaves behind one URL.
// Only slaves that would raise it have their URL formatted: a swap calls
// it for every slave, and formatting every URL each time made 750,000
// strings (60 MB of garbage) to start 500 slaves.
func maxInFlight(s *settings.Settings, url string) int {
	n := 1
	for i := range s.ModbusSlaves {
		if sl := &s.ModbusSlaves[i]; sl.MaxInFlight > n && SlaveURL(sl) == url {
			n = sl.MaxInFlight
		}
	}
	return n
}

// pollBus is the bus lock polls take: none when the device accepts several
// requests in flight, so that the slaves behind it are polled concurrently.
func pollBus(l *bus.Lock, inFlight int) poller.Bus {
	if inFlight > 1 {
		return nil
	}
	return l
}

// writeBusFor returns the mqtt.Bus of the slaves of s: it runs fn with
// slave i's client while holding its bus at high priority, so a write
// (read, write, read back) goes before waiting polls and no poll lands in
// its middle.
func (a *Agent) writeBusFor(s *settings.Settings) mqtt.Bus {
	return func(ctx context.Context, i int, fn func(ctx context.Context, dev mqtt.Device) error) error {
		if i < 0 || i >= len(s.ModbusSlaves) {
			return fmt.Errorf("slave %d: %w", i, mqtt.ErrSlave)
		}
		u := SlaveURL(&s.ModbusSlaves[i])
		a.mu.RLock()
		c, l := a.clients[u], a.buses[u]
		a.mu.RUnlock()
		if c == nil {
			return fmt.Errorf("slave %d (%s) has no client: the map changed", i, u)
		}
		if err := l.Acquire(ctx, true); err != nil {
			return err
		}
		defer l.Release()
		return fn(ctx, c)
	}
}

// tickLoop drives the time-based parts of the pipeline: stale-data rules,
// interpolation deadlines and poll-mode virtual sensors.
func (a *Agent) tickLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := a.pipe.Tick(now); err != nil {
				a.log.Error("storing rule and virtual-sensor outputs failed", "err", err)
			}
		}
	}
}

// leafBus is the live bus of the embedded server: interest is the
// server's, publishing goes through the agent's in-process connection.
type leafBus struct {
	leaf *uplink.Leaf
	nc   *nats.Conn
}

var _ liveBus = leafBus{}

func (b leafBus) Interest(subj string) bool              { return b.leaf.Interest(subj) }
func (b leafBus) Publish(subj string, data []byte) error { return b.nc.Publish(subj, data) }

// trimLoop applies the age bound (a no-op without buffer.maxAge) and
// compacts the buffer file when it is much larger than its live data, once
// a minute.
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
			if _, err := a.buf.Compact(); err != nil {
				a.log.Error("compacting the buffer file failed", "err", err)
			}
		}
	}
}

// heartbeatLoop publishes the agent's status on
// <domain>.edge.<edge>.heartbeat every interval; the hub keeps the latest
// per edge in layer system, collection edges.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.Heartbeat.Interval.Std())
	defer t.Stop()
	subj := subject.Heartbeat(a.cfg.Domain, a.cfg.Edge.ID)
	for {
		st, err := a.Status()
		if err != nil {
			a.log.Warn("heartbeat: reading status", "err", err)
		}
		if data, err := json.Marshal(st); err == nil {
			// best effort: while the link is down there is nobody to tell
			_ = a.nc.Publish(subj, data)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Status is a snapshot of the agent's health.
type Status struct {
	// Edge is the edge id.
	Edge string `json:"edge"`
	// Time is when the snapshot was taken, to the millisecond: the hub
	// stamps a heartbeat's history points with it, so that hubs recording
	// the same heartbeat record the same points.
	Time time.Time `json:"time"`
	// Labels are the edge's labels (edge.labels).
	Labels map[string]string `json:"labels,omitempty"`
	// Version is the agent's version.
	Version string `json:"version"`
	// Uptime is seconds since start.
	Uptime float64 `json:"uptime"`
	// HeartbeatInterval is the seconds between heartbeats: the hub marks
	// the edge offline after 3 of them without one.
	HeartbeatInterval float64 `json:"heartbeat_interval"`
	// HubConnected tells whether the leaf link is up.
	HubConnected bool `json:"hub_connected"`
	// Buffer describes the store-and-forward queue.
	Buffer buffer.Stats `json:"buffer"`
	// OldestUnsentAge is the age in seconds of the oldest buffered update (0 when empty).
	OldestUnsentAge float64 `json:"oldest_unsent_age"`
	// Forwarder counts what was sent.
	Forwarder uplink.ForwarderStats `json:"forwarder"`
	// Slaves describe polling per device.
	Slaves []poller.Stats `json:"slaves"`
	// Rules count the actions of each bad-data rule.
	Rules map[string]baddata.RuleStats `json:"rules,omitempty"`
	// VirtualSensors count each virtual sensor's outputs.
	VirtualSensors map[string]vsensor.SensorStats `json:"virtual_sensors,omitempty"`
	// MQTT describes the MQTT bridge (nil without one).
	MQTT *mqtt.Stats `json:"mqtt,omitempty"`
	// OPCUA describes each OPC-UA server's connection (none without an
	// opcua section).
	OPCUA []opcua.Stats `json:"opcua,omitempty"`
	// Devices counts the readings of local devices (nil without a devices
	// section).
	Devices *iot.Stats `json:"devices,omitempty"`
	// Map is the running Modbus map: version (content hash), pusher,
	// confirmation, last rollback.
	Map control.MapInfo `json:"map"`
	// Control counts control requests (refused pushes are audited there).
	Control ControlStats `json:"control"`
}

// Status returns the agent's health.
func (a *Agent) Status() (Status, error) {
	st := Status{Edge: a.cfg.Edge.ID, Time: time.Now().UTC().Truncate(time.Millisecond), Labels: a.cfg.Edge.Labels, Version: version.String(), Uptime: time.Since(a.started).Seconds(),
		HeartbeatInterval: a.cfg.Heartbeat.Interval.Std().Seconds(), HubConnected: a.leaf.HubConnected(), Forwarder: a.fwd.Stats()}
	var err error
	st.Buffer, err = a.buf.Stats()
	if !st.Buffer.OldestTS.IsZero() {
		st.OldestUnsentAge = max(0, time.Since(st.Buffer.OldestTS).Seconds())
	}
	a.mu.RLock()
	for _, r := range a.slaves {
		st.Slaves = append(st.Slaves, r.p.Stats())
	}
	st.Map = a.mapInfo
	a.mu.RUnlock()
	st.Control = a.ctl.stats()
	st.Rules = a.bd.Stats()
	if a.vs != nil {
		st.VirtualSensors = a.vs.Stats()
	}
	if br := a.bridge.Load(); br != nil {
		ms := br.b.Stats()
		st.MQTT = &ms
	}
	st.OPCUA = a.opcuaStats()
	st.Devices = a.devicesStats()
	return st, err
}

// Close stops pollers and the forwarder, then the server and the buffer.
func (a *Agent) Close() {
	a.mu.Lock()
	a.closing = true // no poller or bridge starts any more
	a.mu.Unlock()
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

// Reload applies what can change without a restart: the bad-data rules
// (swapped atomically; rules that do not compile are refused and the
// running ones stay). It reports, and does not apply, changes that need a
// restart.
func (a *Agent) Reload(cfg *Config) error {
	if cfg.Control.TrustedKeys != nil || a.cfg.Control.TrustedKeys != nil {
		a.ctl.setTrusted(cfg.Control.TrustedKeys)
	}
	if err := a.bd.Reload(cfg.Rules); err != nil {
		return err
	}
	a.log.Info("bad-data rules reloaded", "rules", len(cfg.Rules))
	old, _ := json.Marshal(a.withoutRules(a.cfg))
	now, _ := json.Marshal(a.withoutRules(cfg))
	if string(old) != string(now) {
		a.log.Warn("the config has changes other than rules; they take effect after a restart")
	}
	return nil
}

func (a *Agent) withoutRules(c *Config) Config {
	cp := *c
	cp.Rules = nil
	cp.Control.TrustedKeys = nil
	return cp
}

// Run starts the agent and runs it until ctx is done; every config sent on
// reloads is applied with Reload. Each of alongside (e.g. systemd
// notifications) runs in its own goroutine once the agent has started, until
// ctx is done; Run waits for them before it closes the agent.
func Run(ctx context.Context, cfg *Config, log *slog.Logger, reloads <-chan *Config, alongside ...func(context.Context, *Agent)) error {
	applyMemoryLimit(cfg, log)
	a, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	for _, f := range alongside {
		wg.Go(func() { f(actx, a) })
	}
	for {
		select {
		case <-ctx.Done():
			log.Info("edge agent stopping")
			return nil
		case c := <-reloads:
			if err := a.Reload(c); err != nil {
				log.Error("config reload refused; the running config stays", "err", err)
			}
		}
	}
}
