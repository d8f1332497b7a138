package agent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/edge/bus"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/model"
)

// slaveRun is one slave being polled: its poller and what a map swap needs
// to know of it.
type slaveRun struct {
	key   string // fingerprint of everything that shapes its polls
	name  string // "<url>#<unit>": the device
	url   string
	index atomic.Int64 // the slave's index in the running SETTINGS (MQTT status, writes)
	p     *poller.Poller
	stop  chan struct{} // closed to stop the poller between cycles
	done  chan struct{} // closed when the poller returned
	watch atomic.Pointer[watch]
}

// label names the slave in replies: "<index>:<url>#<unit>".
func (r *slaveRun) label() string { return fmt.Sprintf("%d:%s", r.index.Load(), r.name) }

// slaveKey is the fingerprint of slave i of s: two slaves with the same key
// poll the same registers of the same device into the same document on the
// same schedule, so a swap keeps the running one. It is the SHA-256 of the
// JSON of all that (32 bytes kept per slave instead of the ~2 KB JSON of a
// 30-variable map: 1 MB of live heap at 500 slaves).
func (a *Agent) slaveKey(s *settings.Settings, i int) string {
	sl := &s.ModbusSlaves[i]
	b, _ := json.Marshal(struct {
		Slave    *settings.Slave
		Vars     []settings.Variable
		Doc      settings.Document
		Period   float64
		InFlight int
	}{sl, s.ModbusMaps[sl.Map], a.documentOf(s, i), s.PeriodOf(sl), maxInFlight(s, SlaveURL(sl))})
	sum := sha256.Sum256(b)
	return string(sum[:])
}

// documentOf is Config.DocumentOf for settings s.
func (a *Agent) documentOf(s *settings.Settings, i int) settings.Document {
	c := *a.cfg
	c.Settings = s
	return c.DocumentOf(i)
}

// clientFor returns the client of url, creating it (and its bus lock) when
// no slave uses that url yet. created tells whether it is new. a.mu must
// be held for writing.
func (a *Agent) clientFor(s *settings.Settings, sl *settings.Slave) (c *modbus.Client, created bool, err error) {
	u := SlaveURL(sl)
	if c, ok := a.clients[u]; ok {
		return c, false, nil
	}
	timeout := time.Second
	if sl.Timeout > 0 {
		timeout = time.Duration(sl.Timeout * float64(time.Second))
	}
	// one client per bus/host: its requests are serialised, which is what a
	// half-duplex RS-485 bus or a TCP gateway needs
	c, err = modbus.NewClient(u, modbus.ClientOptions{Timeout: timeout, MaxInFlight: maxInFlight(s, u), Logger: a.log})
	if err != nil {
		return nil, false, err
	}
	a.clients[u] = c
	a.buses[u] = &bus.Lock{}
	return c, true, nil
}

// newRun makes the poller of slave i of s (not started). a.mu must be held
// for writing.
func (a *Agent) newRun(s *settings.Settings, i int) (*slaveRun, error) {
	sl := &s.ModbusSlaves[i]
	u := SlaveURL(sl)
	c, _, err := a.clientFor(s, sl)
	if err != nil {
		return nil, fmt.Errorf("slave %d (%s): %w", i, u, err)
	}
	r := &slaveRun{key: a.slaveKey(s, i), name: fmt.Sprintf("%s#%d", u, sl.SlaveID), url: u,
		stop: make(chan struct{}), done: make(chan struct{})}
	r.index.Store(int64(i))
	period := time.Duration(s.PeriodOf(sl) * float64(time.Second))
	n := len(s.ModbusSlaves)
	r.p = poller.New(c, poller.Options{
		Name:     r.name,
		Slave:    sl,
		Vars:     s.ModbusMaps[sl.Map],
		Document: a.documentOf(s, i),
		Period:   period,
		Offset:   period * time.Duration(i) / time.Duration(max(n, 1)), // stagger
		Sink: func(ctx context.Context, us []model.Update) error {
			return a.pipe.Process(ctx, int(r.index.Load()), us)
		},
		Bus:    pollBus(a.buses[u], maxInFlight(s, u)),
		Logger: a.log,
		OnCycle: func(err error) {
			if w := r.watch.Load(); w != nil {
				w.observe(r.name, err)
			}
		},
	})
	return r, nil
}

// startRun runs r's poller until ctx is done or r.stop closes. It does
// nothing once the agent is closing. a.mu must be held.
func (a *Agent) startRun(ctx context.Context, r *slaveRun) {
	if a.closing {
		close(r.done)
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(r.done)
		_ = r.p.RunUntil(ctx, r.stop)
	}()
}

// swapResult is what swap did.
type swapResult struct {
	changes control.Changes
	// fresh are the runs swap started (new or changed slaves).
	fresh []*slaveRun
	// healthy names the devices whose last cycle under the previous map
	// succeeded: a new map failing on them is rolled back.
	healthy map[string]bool
}

// swap makes s the running SETTINGS between poll cycles: slaves whose
// fingerprint is unchanged keep their poller, connection and schedule;
// the pollers of removed or changed slaves finish their cycle in flight
// and stop; new pollers start; clients nobody uses any more are closed;
// the MQTT bridge is rebuilt for s. The buffer is not touched. Errors
// (a client or the MQTT bridge cannot be made) change nothing. a.mapMu
// must be held.
func (a *Agent) swap(ctx context.Context, s *settings.Settings, raw []byte, info control.MapInfo) (*swapResult, error) {
	nb, err := a.newBridge(s)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	pool := map[string][]*slaveRun{}
	for _, r := range a.slaves {
		pool[r.key] = append(pool[r.key], r)
	}
	res := &swapResult{healthy: map[string]bool{}}
	for _, r := range a.slaves {
		if st := r.p.Stats(); st.Cycles > 0 && st.Up && st.LastError == "" {
			res.healthy[r.name] = true
		}
	}
	runs := make([]*slaveRun, len(s.ModbusSlaves))
	var clientsBefore = make(map[string]bool, len(a.clients))
	for u := range a.clients {
		clientsBefore[u] = true
	}
	for i := range s.ModbusSlaves {
		k := a.slaveKey(s, i)
		if rs := pool[k]; len(rs) > 0 {
			runs[i], pool[k] = rs[0], rs[1:]
			res.changes.Kept++
			continue
		}
		r, err := a.newRun(s, i)
		if err != nil {
			for u, c := range a.clients { // undo the clients made for s
				if !clientsBefore[u] {
					c.Close()
					delete(a.clients, u)
					delete(a.buses, u)
				}
			}
			a.mu.Unlock()
			return nil, err
		}
		runs[i] = r
		res.fresh = append(res.fresh, r)
	}
	a.mu.Unlock()

	// stop what goes, outside the lock: a cycle in flight finishes and
	// hands its readings to the pipeline
	var gone []*slaveRun
	for _, rs := range pool {
		gone = append(gone, rs...)
	}
	for _, r := range gone {
		close(r.stop)
	}
	for _, r := range gone {
		<-r.done
	}
	oldNames := map[string]bool{}
	for _, r := range gone {
		oldNames[r.name] = true
	}
	for _, r := range res.fresh {
		if oldNames[r.name] {
			res.changes.Changed = append(res.changes.Changed, r.label())
		} else {
			res.changes.Added = append(res.changes.Added, r.label())
		}
	}
	newNames := map[string]bool{}
	for _, r := range runs {
		newNames[r.name] = true
	}
	for _, r := range gone {
		if !newNames[r.name] {
			res.changes.Removed = append(res.changes.Removed, r.label())
		}
	}
	slices.Sort(res.changes.Changed)
	slices.Sort(res.changes.Added)
	slices.Sort(res.changes.Removed)

	a.mu.Lock()
	used := map[string]bool{}
	for i, r := range runs {
		r.index.Store(int64(i))
		used[r.url] = true
	}
	for u, c := range a.clients {
		if !used[u] {
			c.Close()
			delete(a.clients, u)
			delete(a.buses, u)
		}
	}
	a.slaves, a.settings, a.raw = runs, s, raw
	a.mapInfo = info
	for _, r := range res.fresh {
		a.startRun(ctx, r)
	}
	a.mu.Unlock()
	a.replaceBridge(ctx, nb)
	return res, nil
}

// bridgeRun is a running MQTT bridge.
type bridgeRun struct {
	b      *mqtt.Bridge
	cancel context.CancelFunc
	done   chan struct{}
}

// newBridge makes the MQTT bridge of s (nil without an mqtt section).
func (a *Agent) newBridge(s *settings.Settings) (*mqtt.Bridge, error) {
	if s.MQTT == nil {
		return nil, nil
	}
	o := a.cfg.MQTTOptions
	if o.ClientID == "" {
		o.ClientID = "gridedge-" + a.cfg.Edge.ID
	}
	o.Logger = a.log
	b, err := mqtt.New(s, mqtt.NewDeviceWriter(s, a.writeBusFor(s)), o)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return b, nil
}

// replaceBridge stops the running bridge (if any) and runs b (if not nil).
func (a *Agent) replaceBridge(ctx context.Context, b *mqtt.Bridge) {
	if old := a.bridge.Swap(nil); old != nil {
		old.cancel()
		<-old.done
	}
	if b == nil {
		return
	}
	bctx, cancel := context.WithCancel(ctx)
	br := &bridgeRun{b: b, cancel: cancel, done: make(chan struct{})}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		cancel()
		return
	}
	a.bridge.Store(br)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(br.done)
		if err := b.Run(bctx); err != nil {
			a.log.Error("mqtt bridge stopped", "err", err)
		}
	}()
}

// bridgeStatus is the pipeline's MQTT status publisher: the bridge that
// runs now, if any.
type bridgeStatus struct{ a *Agent }

func (s bridgeStatus) Publish(slave int, u model.Update) {
	if br := s.a.bridge.Load(); br != nil {
		br.b.Publish(slave, u)
	}
}
