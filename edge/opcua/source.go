package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

// Sink receives the document updates of a source: the agent's pipeline.
type Sink func(ctx context.Context, updates []model.Update) error

// chunk bounds the nodes of one Read or CreateMonitoredItems request:
// servers limit them (MaxNodesPerRead, MaxMonitoredItemsPerCall) and
// 1,000 is below every limit seen in practice.
const chunk = 1000

// errLost is what a session ends with when the server goes away.
var errLost = errors.New("connection lost")

// item is one node and the measurement it feeds.
type item struct {
	doc  int // index in docs
	name string
	node *ua.NodeID
	m    *Measurement
}

// Source reads one OPC-UA server's nodes into document updates, through
// subscriptions or polls, reconnecting after a lost connection.
type Source struct {
	srv   *Server
	sink  Sink
	log   *slog.Logger
	docs  []settings.Document
	items []item
	now   func() time.Time

	mu   sync.Mutex
	last []any // last good value per item, kept for bad-quality updates

	connected     atomic.Bool
	connects      atomic.Uint64
	values        atomic.Uint64
	badItems      atomic.Int64
	lastErr       atomic.Pointer[string]
	subscribed    atomic.Int64
	badMarkedOnce bool // only the Run goroutine touches it
}

// NewSource makes the source of server s (defaults applied and
// validated); sink receives its updates. It starts nothing: see Run.
func NewSource(s *Server, sink Sink, log *slog.Logger) (*Source, error) {
	src := &Source{srv: s, sink: sink, log: log.With("opcua", s.Name), now: time.Now}
	for i := range s.Documents {
		d := &s.Documents[i]
		src.docs = append(src.docs, d.Document)
		for j := range d.Measurements {
			m := &d.Measurements[j]
			id, err := ParseNodeID(m.NodeID)
			if err != nil {
				return nil, fmt.Errorf("opcua server %s, measurement %s: %w", s.Name, m.Name, err)
			}
			src.items = append(src.items, item{doc: i, name: m.Name, node: id, m: m})
		}
	}
	src.last = make([]any, len(src.items))
	return src, nil
}

// Stats describe a source for the agent's status.
type Stats struct {
	// Name names the server.
	Name string `json:"name"`
	// URL is the server's endpoint.
	URL string `json:"url"`
	// Connected tells whether a session is up.
	Connected bool `json:"connected"`
	// Connects counts sessions opened (more than 1: reconnections).
	Connects uint64 `json:"connects"`
	// Items counts the measurements configured.
	Items int `json:"items"`
	// Subscribed counts the monitored items the server accepted.
	Subscribed int64 `json:"subscribed"`
	// BadItems counts nodes the server refused (unknown node, bad filter).
	BadItems int64 `json:"bad_items"`
	// Values counts the values received (notifications and polls).
	Values uint64 `json:"values"`
	// LastError is the last connection error, "" when none.
	LastError string `json:"last_error,omitempty"`
}

// Stats returns the source's counters.
func (src *Source) Stats() Stats {
	st := Stats{Name: src.srv.Name, URL: src.srv.URL, Connected: src.connected.Load(), Connects: src.connects.Load(),
		Items: len(src.items), Subscribed: src.subscribed.Load(), BadItems: src.badItems.Load(), Values: src.values.Load()}
	if e := src.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// Run connects and reads until ctx is done. After a failed connection or a
// lost one it marks every measurement bad once (last value kept), waits
// (500ms doubling up to reconnectMax) and connects again, creating the
// subscription and its monitored items anew.
func (src *Source) Run(ctx context.Context) error {
	const minWait = 500 * time.Millisecond
	wait := minWait
	for {
		up, err := src.session(ctx)
		src.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			wait = minWait
		}
		msg := err.Error()
		src.lastErr.Store(&msg)
		if !src.badMarkedOnce {
			src.markBad(ctx)
			src.badMarkedOnce = true
		}
		if up || src.connects.Load() == 0 {
			src.log.Warn("opc-ua server unavailable; readings marked bad, reconnecting", "url", src.srv.URL, "err", err, "retry_in", wait)
		} else {
			src.log.Debug("opc-ua server still unavailable", "url", src.srv.URL, "err", err, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, src.srv.ReconnectMax.Std())
	}
}

// session runs one connection until it is lost or ctx is done; up tells
// whether the session was established.
func (src *Source) session(ctx context.Context) (up bool, err error) {
	cn, err := Connect(ctx, src.srv, src.log)
	if err != nil {
		return false, err
	}
	defer cn.Close()
	if src.connects.Add(1) > 1 {
		src.log.Info("opc-ua server connected again", "url", src.srv.URL)
	} else {
		src.log.Info("opc-ua server connected", "url", src.srv.URL, "policy", src.srv.Security.Policy, "mode", src.srv.Security.Mode)
	}
	src.connected.Store(true)
	src.lastErr.Store(nil)
	src.badMarkedOnce = false
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var subItems, pollItems []int
	for i := range src.items {
		if src.items[i].m.Mode == ModePoll {
			pollItems = append(pollItems, i)
		} else {
			subItems = append(subItems, i)
		}
	}
	notify := make(chan *opcua.PublishNotificationData, 256)
	if len(subItems) > 0 {
		if err := src.subscribe(sctx, cn, subItems, notify); err != nil {
			return true, err
		}
	}
	var tick <-chan time.Time
	if len(pollItems) > 0 {
		t := time.NewTicker(src.srv.PollInterval.Std())
		defer t.Stop()
		tick = t.C
		if err := src.poll(sctx, cn, pollItems); err != nil {
			return true, err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-cn.Lost():
			return true, errLost
		case <-tick:
			if err := src.poll(sctx, cn, pollItems); err != nil {
				return true, err
			}
		case n := <-notify:
			if err := src.notification(sctx, n); err != nil {
				return true, err
			}
		}
	}
}

// subscribe creates the subscription and the monitored items of idx.
func (src *Source) subscribe(ctx context.Context, cn *Conn, idx []int, notify chan *opcua.PublishNotificationData) error {
	pub := src.srv.PublishingInterval.Std()
	// a keep-alive at least every 10s, so a silent server is noticed
	keepAlive := uint32(max(1, int64(10*time.Second/pub)))
	sub, err := cn.c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: pub, MaxKeepAliveCount: keepAlive,
		LifetimeCount: 3 * keepAlive, MaxNotificationsPerPublish: 0}, notify)
	if err != nil {
		return fmt.Errorf("create subscription on %s: %w", src.srv.URL, err)
	}
	accepted, refused := int64(0), int64(0)
	var bad []model.Update
	for start := 0; start < len(idx); start += chunk {
		part := idx[start:min(start+chunk, len(idx))]
		reqs := make([]*ua.MonitoredItemCreateRequest, len(part))
		for k, i := range part {
			reqs[k] = src.monitorRequest(i, pub)
		}
		res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
		if err != nil {
			return fmt.Errorf("create %d monitored items on %s: %w", len(reqs), src.srv.URL, err)
		}
		if len(res.Results) != len(part) {
			return fmt.Errorf("create monitored items on %s: %d results for %d items", src.srv.URL, len(res.Results), len(part))
		}
		for k, r := range res.Results {
			if r.StatusCode == ua.StatusOK {
				accepted++
				continue
			}
			refused++
			it := &src.items[part[k]]
			src.log.Error("opc-ua node refused as monitored item; its measurement stays bad", "node", it.m.NodeID,
				"measurement", it.name, "status", r.StatusCode.Error())
			bad = append(bad, src.badUpdates([]int{part[k]}, src.now())...)
		}
	}
	src.subscribed.Store(accepted)
	src.badItems.Store(refused)
	src.log.Info("opc-ua subscription created", "items", accepted, "refused", refused,
		"publishing_interval", sub.RevisedPublishingInterval)
	if len(bad) > 0 {
		return src.deliver(ctx, bad)
	}
	return nil
}

// monitorRequest is the monitored item of item i: value attribute, client
// handle i, its sampling interval, a queue long enough for the samples of
// one publishing interval, and a data-change filter with its deadband.
func (src *Source) monitorRequest(i int, pub time.Duration) *ua.MonitoredItemCreateRequest {
	it := &src.items[i]
	req := opcua.NewMonitoredItemCreateRequestWithDefaults(it.node, ua.AttributeIDValue, uint32(i))
	sampling := it.m.SamplingInterval.Std()
	req.RequestedParameters.SamplingInterval = float64(sampling) / float64(time.Millisecond)
	q := uint32(1)
	if sampling > 0 && sampling < pub {
		q = uint32(min(100, (pub+sampling-1)/sampling))
	}
	req.RequestedParameters.QueueSize = q
	if it.m.Deadband > 0 {
		dt := ua.DeadbandTypeAbsolute
		if it.m.DeadbandType == DeadbandPercent {
			dt = ua.DeadbandTypePercent
		}
		req.RequestedParameters.Filter = ua.NewExtensionObject(&ua.DataChangeFilter{
			Trigger: ua.DataChangeTriggerStatusValue, DeadbandType: uint32(dt), DeadbandValue: it.m.Deadband})
	}
	return req
}

// notification handles one publish notification.
func (src *Source) notification(ctx context.Context, n *opcua.PublishNotificationData) error {
	if n.Error != nil {
		// publish errors come with a lost connection, which Lost reports
		src.log.Debug("opc-ua publish error", "err", n.Error)
		return nil
	}
	switch v := n.Value.(type) {
	case *ua.DataChangeNotification:
		now := src.now()
		b := newBatcher(src)
		for _, mi := range v.MonitoredItems {
			if mi == nil || int(mi.ClientHandle) >= len(src.items) {
				continue
			}
			b.add(int(mi.ClientHandle), mi.Value, now)
		}
		src.values.Add(uint64(len(v.MonitoredItems)))
		return src.deliver(ctx, b.updates())
	case *ua.StatusChangeNotification:
		// the server ended the subscription (e.g. BadTimeout): start over
		return fmt.Errorf("subscription status changed: %w", v.Status)
	}
	return nil
}

// poll reads the nodes of idx.
func (src *Source) poll(ctx context.Context, cn *Conn, idx []int) error {
	b := newBatcher(src)
	for start := 0; start < len(idx); start += chunk {
		part := idx[start:min(start+chunk, len(idx))]
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: make([]*ua.ReadValueID, len(part))}
		for k, i := range part {
			req.NodesToRead[k] = &ua.ReadValueID{NodeID: src.items[i].node, AttributeID: ua.AttributeIDValue}
		}
		res, err := cn.c.Read(ctx, req)
		if err != nil {
			return fmt.Errorf("read %d nodes from %s: %w", len(part), src.srv.URL, err)
		}
		if len(res.Results) != len(part) {
			return fmt.Errorf("read from %s: %d results for %d nodes", src.srv.URL, len(res.Results), len(part))
		}
		now := src.now()
		for k, dv := range res.Results {
			b.add(part[k], dv, now)
		}
		src.values.Add(uint64(len(part)))
	}
	return src.deliver(ctx, b.updates())
}

// deliver hands updates to the sink; a sink error is logged, not fatal:
// the connection is fine, the buffer is not.
func (src *Source) deliver(ctx context.Context, us []model.Update) error {
	if len(us) == 0 {
		return nil
	}
	if err := src.sink(ctx, us); err != nil && ctx.Err() == nil {
		src.log.Error("storing opc-ua readings failed", "err", err)
	}
	return nil
}

// markBad sends every measurement's last value with bad quality.
func (src *Source) markBad(ctx context.Context) {
	all := make([]int, len(src.items))
	for i := range all {
		all[i] = i
	}
	_ = src.deliver(ctx, src.badUpdates(all, src.now()))
}

// badUpdates are the updates that mark items idx bad at now.
func (src *Source) badUpdates(idx []int, now time.Time) []model.Update {
	b := newBatcher(src)
	for _, i := range idx {
		b.add(i, nil, now)
	}
	return b.updates()
}

// batcher groups the measurements of one notification or poll into one
// update per document; a measurement seen twice (a queue of samples)
// starts a new update for its document, so no sample is lost.
type batcher struct {
	src  *Source
	open map[int]*pending // by document index
	out  []model.Update
}

type pending struct {
	ms map[string]model.Measurement
	ts time.Time
}

func newBatcher(src *Source) *batcher { return &batcher{src: src, open: map[int]*pending{}} }

// add adds item i's value dv (nil: bad) read at now.
func (b *batcher) add(i int, dv *ua.DataValue, now time.Time) {
	it := &b.src.items[i]
	b.src.mu.Lock()
	m := MeasurementOf(dv, b.src.last[i], now)
	if m.Quality != model.QualityBad && m.Value != nil {
		b.src.last[i] = m.Value
	}
	b.src.mu.Unlock()
	p := b.open[it.doc]
	if p != nil {
		if _, dup := p.ms[it.name]; dup {
			b.flush(it.doc, p)
			p = nil
		}
	}
	if p == nil {
		p = &pending{ms: map[string]model.Measurement{}}
		b.open[it.doc] = p
	}
	p.ms[it.name] = m
	if m.Timestamp.After(p.ts) {
		p.ts = m.Timestamp
	}
}

func (b *batcher) flush(doc int, p *pending) {
	d := &b.src.docs[doc]
	b.out = append(b.out, model.MeasurementUpdate(d.Layer, d.Collection, d.ID, p.ts, p.ms))
	delete(b.open, doc)
}

// updates returns the updates, documents in configuration order.
func (b *batcher) updates() []model.Update {
	for doc := range b.src.docs {
		if p := b.open[doc]; p != nil {
			b.flush(doc, p)
		}
	}
	return b.out
}
