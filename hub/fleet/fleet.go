// Package fleet keeps the hub's view of its edges: it receives every edge's
// heartbeat (<domain>.edge.<edge>.heartbeat), adds what the hubs know (what
// their ingest appliers applied for that edge, when the heartbeat arrived,
// whether the edge is online), and keeps the latest per edge as a document
// in layer "system", collection "edges", readable through the REST API. An
// edge whose last heartbeat is older than OfflineAfter heartbeat intervals
// is marked offline. The fleet answers <domain>.fleet.list and
// <domain>.fleet.status.<edge> (package control) for the gridedge CLI.
//
// Several hubs sharing a store (a cluster) share the work: the heartbeat
// and request subscriptions are a queue group (QueueGroup), so one hub
// records each heartbeat and one answers each request, from the store,
// which is the fleet's only state. Each hub adds its own ingest counters
// of an edge under hubs.<instance> when it records a heartbeat of that
// edge, and "hub" is their sum.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// Where edge records live.
const (
	Layer      = "system"
	Collection = "edges"
)

// QueueGroup is the queue group of the fleet's subscriptions: of several
// hubs, one records each heartbeat and one answers each request.
const QueueGroup = "fleet"

// Fleet records heartbeats.
type Fleet struct {
	nc      *nats.Conn
	st      store.Store
	applied func(edge string) ingest.EdgeStats
	domain  string
	log     *slog.Logger

	now   func() time.Time // the clock (tests set a fake one)
	every time.Duration    // how often offline edges are looked for

	// History, when set, receives each edge's heartbeat figures (see
	// HistoryFields) under system/edges/<edge>; set it before Run.
	History history.Appender

	// Judges, when set, tells whether this hub may mark an edge offline:
	// in a supercluster only the hubs of the edge's own cluster, since a
	// cut gateway stops heartbeats from crossing while the edge is still
	// connected (docs/scaling.md). Unset: every edge. Set it before Run.
	Judges func(edge string) bool

	// Instance names this hub's ingest counters in an edge's record
	// (hubs.<instance>; default "hub"); set it before Run.
	Instance string
}

// New returns a Fleet; applied (may be nil) reports the applier's counters of an edge.
func New(nc *nats.Conn, st store.Store, domain string, applied func(edge string) ingest.EdgeStats, log *slog.Logger) *Fleet {
	return &Fleet{nc: nc, st: st, applied: applied, domain: domain, log: log,
		now: time.Now, every: time.Second}
}

// EnsureLayer creates layer system with collection edges when missing,
// keeping the layer's other collections.
func EnsureLayer(ctx context.Context, st store.Store, collection string) error {
	if err := store.PutCollection(ctx, st, Layer, collection,
		store.Layer{Label: "System", Description: "GridEdge's own records: edges and their health"}); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// Run records heartbeats until ctx is done.
func (f *Fleet) Run(ctx context.Context) error {
	if err := EnsureLayer(ctx, f.st, Collection); err != nil {
		return err
	}
	if err := f.prepareOffline(ctx); err != nil {
		return err
	}
	if f.Instance == "" {
		f.Instance = "hub"
	}
	msgs := make(chan *nats.Msg, 256)
	sub, err := f.nc.ChanQueueSubscribe(subject.HeartbeatAll(f.domain), QueueGroup, msgs)
	if err != nil {
		return fmt.Errorf("fleet: subscribe to heartbeats: %w", err)
	}
	defer sub.Unsubscribe()
	hwm, err := f.nc.QueueSubscribe(subject.HWMAll(f.domain), QueueGroup, func(m *nats.Msg) { f.answerHWM(ctx, m) })
	if err != nil {
		return fmt.Errorf("fleet: subscribe to high-water-mark requests: %w", err)
	}
	defer hwm.Unsubscribe()
	list, err := f.nc.QueueSubscribe(subject.FleetList(f.domain), QueueGroup, func(m *nats.Msg) { f.answerList(ctx, m) })
	if err != nil {
		return fmt.Errorf("fleet: subscribe to fleet list requests: %w", err)
	}
	defer list.Unsubscribe()
	status, err := f.nc.QueueSubscribe(subject.FleetStatusAll(f.domain), QueueGroup, func(m *nats.Msg) { f.answerStatus(ctx, m) })
	if err != nil {
		return fmt.Errorf("fleet: subscribe to fleet status requests: %w", err)
	}
	defer status.Unsubscribe()
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			if err := f.record(ctx, m); err != nil {
				f.log.Warn("fleet: heartbeat not recorded", "subject", m.Subject, "err", err)
			}
		case <-tick.C:
			f.markOffline(ctx)
		}
	}
}

// answerHWM tells an edge the highest sequence number applied for it, so
// that an edge whose buffer was recreated continues above it.
func (f *Fleet) answerHWM(ctx context.Context, m *nats.Msg) {
	edge := subject.Token(m.Subject, 2)
	resp := map[string]any{"edge": edge}
	if n, err := f.st.HighWaterMark(ctx, edge); err != nil {
		resp["error"] = err.Error()
	} else {
		resp["hwm"] = n
	}
	data, _ := json.Marshal(resp)
	if err := m.Respond(data); err != nil {
		f.log.Warn("fleet: answer high-water-mark request", "edge", edge, "err", err)
	}
}

// record stores a heartbeat as the edge's record, with the hubs' ingest
// counters of the edge (this hub's fresh, the others' as they last stored
// them), and its figures in the history at the heartbeat's own time.
func (f *Fleet) record(ctx context.Context, m *nats.Msg) error {
	edge := subject.Token(m.Subject, 2)
	var hb map[string]any
	if err := json.Unmarshal(m.Data, &hb); err != nil {
		return fmt.Errorf("malformed heartbeat: %w", err)
	}
	if id, _ := hb["edge"].(string); id != edge {
		return fmt.Errorf("heartbeat of edge %q published on the subject of edge %q", id, edge)
	}
	now := f.now().UTC()
	rec := newRecord(edge, m.Data, now)
	doc := store.Document{"_id": edge, "heartbeat": hb, "receivedAt": now, "offlineAt": rec.offlineAt()}
	var own map[string]any
	if f.applied != nil {
		own = counters(f.applied(edge), now)
		hubs := map[string]any{}
		prev, err := f.st.Get(ctx, Layer, Collection, edge)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read edge record: %w", err)
		}
		if h, ok := prev["hubs"].(map[string]any); ok {
			hubs = h
		}
		if own != nil {
			hubs[f.counterKey()] = own
		}
		doc["hub"] = sumCounters(hubs)
	}
	rec.fill(doc)
	if _, err := f.st.Bulk(ctx, Layer, Collection, []store.Document{doc}, false); err != nil {
		return fmt.Errorf("store edge record: %w", err)
	}
	if own != nil {
		if _, err := f.st.UpdateByID(ctx, Layer, Collection, edge, map[string]any{"$set": map[string]any{"hubs." + f.counterKey(): own}}); err != nil {
			return fmt.Errorf("store this hub's ingest counters in the edge record: %w", err)
		}
	}
	f.appendHistory(ctx, rec.summary, heartbeatTime(hb, now))
	return nil
}

// heartbeatTime is the heartbeat's own time (its "time", from agents that
// send one), else when it was received.
func heartbeatTime(hb map[string]any, received time.Time) time.Time {
	if s, ok := hb["time"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC()
		}
	}
	return received
}

// counterKey is this hub's key under hubs in an edge's record.
func (f *Fleet) counterKey() string { return strings.ReplaceAll(f.Instance, ".", "_") }

// counterNames are the summed ingest counters; last_seq is their maximum.
var counterNames = []string{"batches", "applied", "skipped", "missing", "dead_letters", "quarantined", "refused", "history_refused"}

// counters are a hub's ingest counters of an edge as stored, at now; nil
// when the hub applied nothing of it.
func counters(s ingest.EdgeStats, now time.Time) map[string]any {
	if s == (ingest.EdgeStats{}) {
		return nil
	}
	return map[string]any{
		"batches": float64(s.Batches), "applied": float64(s.Applied), "skipped": float64(s.Skipped),
		"missing": float64(s.Missing), "dead_letters": float64(s.DeadLetters), "last_seq": float64(s.LastSeq),
		"quarantined": float64(s.Quarantined), "refused": float64(s.Refused), "history_refused": float64(s.HistoryRefused),
		"at": now,
	}
}

// sumCounters adds up the hubs' counters (zeros without any).
func sumCounters(hubs map[string]any) map[string]any {
	sum := map[string]any{"last_seq": 0.0}
	for _, n := range counterNames {
		sum[n] = 0.0
	}
	for _, v := range hubs {
		c, _ := v.(map[string]any)
		for _, n := range counterNames {
			x, _ := c[n].(float64)
			sum[n] = sum[n].(float64) + x
		}
		if x, _ := c["last_seq"].(float64); x > sum["last_seq"].(float64) {
			sum["last_seq"] = x
		}
	}
	return sum
}
