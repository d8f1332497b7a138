// Package fleet keeps the hub's view of its edges: it receives every edge's
// heartbeat (<domain>.edge.<edge>.heartbeat), adds what the hub itself knows
// (what the ingest applier applied for that edge, when the heartbeat
// arrived, whether the edge is online), and keeps the latest per edge as a
// document in layer "system", collection "edges", readable through the REST
// API. An edge whose last heartbeat is older than OfflineAfter heartbeat
// intervals is marked offline. The fleet answers <domain>.fleet.list and
// <domain>.fleet.status.<edge> (package control) for the gridedge CLI.
package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
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

// Fleet records heartbeats.
type Fleet struct {
	nc      *nats.Conn
	st      store.Store
	applied func(edge string) ingest.EdgeStats
	domain  string
	log     *slog.Logger

	now   func() time.Time // the clock (tests set a fake one)
	every time.Duration    // how often offline edges are looked for

	mu    sync.Mutex
	edges map[string]*edgeRecord

	// History, when set, receives each edge's heartbeat figures (see
	// HistoryFields) under system/edges/<edge>; set it before Run.
	History history.Appender

	// Judges, when set, tells whether this hub may mark an edge offline:
	// in a supercluster only the hubs of the edge's own cluster, since a
	// cut gateway stops heartbeats from crossing while the edge is still
	// connected (docs/scaling.md). Unset: every edge. Set it before Run.
	Judges func(edge string) bool
}

// New returns a Fleet; applied (may be nil) reports the applier's counters of an edge.
func New(nc *nats.Conn, st store.Store, domain string, applied func(edge string) ingest.EdgeStats, log *slog.Logger) *Fleet {
	return &Fleet{nc: nc, st: st, applied: applied, domain: domain, log: log,
		now: time.Now, every: time.Second, edges: map[string]*edgeRecord{}}
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
	if err := f.load(ctx); err != nil {
		return err
	}
	msgs := make(chan *nats.Msg, 256)
	sub, err := f.nc.ChanSubscribe(subject.HeartbeatAll(f.domain), msgs)
	if err != nil {
		return fmt.Errorf("fleet: subscribe to heartbeats: %w", err)
	}
	defer sub.Unsubscribe()
	hwm, err := f.nc.Subscribe(subject.HWMAll(f.domain), func(m *nats.Msg) { f.answerHWM(ctx, m) })
	if err != nil {
		return fmt.Errorf("fleet: subscribe to high-water-mark requests: %w", err)
	}
	defer hwm.Unsubscribe()
	list, err := f.nc.Subscribe(subject.FleetList(f.domain), f.answerList)
	if err != nil {
		return fmt.Errorf("fleet: subscribe to fleet list requests: %w", err)
	}
	defer list.Unsubscribe()
	status, err := f.nc.Subscribe(subject.FleetStatusAll(f.domain), f.answerStatus)
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
	doc := store.Document{"_id": edge, "heartbeat": hb, "receivedAt": now}
	if f.applied != nil {
		s := f.applied(edge)
		rec.hub = map[string]any{
			"batches": s.Batches, "applied": s.Applied, "skipped": s.Skipped,
			"missing": s.Missing, "dead_letters": s.DeadLetters, "last_seq": s.LastSeq,
			"quarantined": s.Quarantined, "refused": s.Refused, "history_refused": s.HistoryRefused,
		}
		doc["hub"] = rec.hub
	}
	rec.fill(doc)
	rec.doc = doc
	if _, err := f.st.Bulk(ctx, Layer, Collection, []store.Document{doc}, false); err != nil {
		return fmt.Errorf("store edge record: %w", err)
	}
	f.mu.Lock()
	f.edges[edge] = rec
	f.mu.Unlock()
	f.appendHistory(ctx, rec.summary, now)
	return nil
}
