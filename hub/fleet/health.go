package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// OfflineAfter is how many heartbeat intervals without a heartbeat make an
// edge offline.
const OfflineAfter = 3

// DefaultInterval is the heartbeat interval assumed for an edge whose
// heartbeat does not say its own (agents before heartbeat_interval).
const DefaultInterval = 5 * time.Second

// edgeRecord is what the fleet knows of one edge.
type edgeRecord struct {
	summary   control.EdgeSummary
	interval  time.Duration
	heartbeat json.RawMessage
	hub       map[string]any
}

// offlineAt is when the edge counts as offline unless another heartbeat
// comes: OfflineAfter intervals after its last one.
func (r *edgeRecord) offlineAt() time.Time {
	return r.summary.LastSeen.Add(OfflineAfter * r.interval)
}

// heartbeatFields are the parts of an agent's heartbeat (edge/agent.Status)
// the summary shows.
type heartbeatFields struct {
	Labels            map[string]string `json:"labels"`
	Version           string            `json:"version"`
	Uptime            float64           `json:"uptime"`
	HeartbeatInterval float64           `json:"heartbeat_interval"`
	OldestUnsentAge   float64           `json:"oldest_unsent_age"`
	Buffer            struct {
		Depth     uint64 `json:"depth"`
		LastError string `json:"last_error"`
	} `json:"buffer"`
	Forwarder struct {
		LastError string `json:"last_error"`
	} `json:"forwarder"`
	Slaves []struct {
		Name      string `json:"name"`
		Up        bool   `json:"up"`
		LastError string `json:"last_error"`
	} `json:"slaves"`
	Map struct {
		Version    string            `json:"version"`
		Pusher     string            `json:"pusher"`
		RolledBack *control.Rollback `json:"rolledBack"`
	} `json:"map"`
}

// newRecord summarises a heartbeat received at now. Fields the heartbeat
// lacks or holds in another shape stay zero: the raw heartbeat is kept.
func newRecord(edge string, data []byte, now time.Time) *edgeRecord {
	var hb heartbeatFields
	_ = json.Unmarshal(data, &hb) // best effort: the shape was checked by the caller
	r := &edgeRecord{heartbeat: json.RawMessage(data), interval: DefaultInterval}
	if hb.HeartbeatInterval > 0 {
		r.interval = time.Duration(hb.HeartbeatInterval * float64(time.Second))
	}
	s := control.EdgeSummary{Edge: edge, State: control.StateOnline, LastSeen: now, Version: hb.Version,
		MapVersion: hb.Map.Version, MapPusher: hb.Map.Pusher, Uptime: hb.Uptime, BufferDepth: hb.Buffer.Depth,
		OldestUnsentAge: hb.OldestUnsentAge, SlavesTotal: len(hb.Slaves), RolledBack: hb.Map.RolledBack,
		Labels: hb.Labels}
	for _, sl := range hb.Slaves {
		if sl.Up {
			s.SlavesUp++
		}
		if sl.LastError != "" && s.LastError == "" {
			s.LastError = sl.Name + ": " + sl.LastError
		}
	}
	if s.LastError == "" {
		s.LastError = hb.Buffer.LastError
	}
	if s.LastError == "" {
		s.LastError = hb.Forwarder.LastError
	}
	r.summary = s
	return r
}

// fill sets the summary fields of the edge's document in system/edges.
func (r *edgeRecord) fill(doc store.Document) {
	s := &r.summary
	doc["state"] = s.State
	doc["lastSeen"] = s.LastSeen
	doc["version"] = s.Version
	doc["mapVersion"] = s.MapVersion
	doc["mapPusher"] = s.MapPusher
	doc["uptime"] = s.Uptime
	doc["bufferDepth"] = s.BufferDepth
	doc["oldestUnsentAge"] = s.OldestUnsentAge
	doc["slavesUp"] = s.SlavesUp
	doc["slavesTotal"] = s.SlavesTotal
	doc["lastError"] = s.LastError
	doc["heartbeatInterval"] = r.interval.Seconds()
	if len(s.Labels) > 0 {
		labels := make(map[string]any, len(s.Labels))
		for k, v := range s.Labels {
			labels[k] = v
		}
		doc["labels"] = labels
	} else {
		delete(doc, "labels")
	}
	if s.RolledBack != nil {
		doc["rolledBack"] = map[string]any{"from": s.RolledBack.From, "to": s.RolledBack.To, "at": s.RolledBack.At,
			"reason": s.RolledBack.Reason, "automatic": s.RolledBack.Automatic}
	} else {
		delete(doc, "rolledBack")
	}
}

// docRecord is the record an edge's document in system/edges holds (nil
// for a document that is not one).
func docRecord(d store.Document) *edgeRecord {
	edge, _ := d["_id"].(string)
	at, ok := d["receivedAt"].(time.Time)
	if edge == "" || !ok {
		return nil
	}
	hb, err := json.Marshal(d["heartbeat"])
	if err != nil {
		return nil
	}
	r := newRecord(edge, hb, at.UTC())
	if state, _ := d["state"].(string); state == control.StateOffline {
		r.summary.State = control.StateOffline
	}
	r.hub, _ = d["hub"].(map[string]any)
	return r
}

// prepareOffline sets offlineAt on the online records that hubs before it
// left without one, so that looking for silent edges finds them.
func (f *Fleet) prepareOffline(ctx context.Context) error {
	sel, err := query.CompileSelector(map[string]any{"offlineAt": map[string]any{"$exists": false},
		"state": map[string]any{"$ne": control.StateOffline}})
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	docs, err := f.st.Find(ctx, Layer, Collection, store.FindOptions{Selector: sel})
	if err != nil {
		return fmt.Errorf("fleet: read %s/%s: %w", Layer, Collection, err)
	}
	for _, d := range docs {
		if r := docRecord(d); r != nil {
			if _, err := f.st.UpdateByID(ctx, Layer, Collection, r.summary.Edge, map[string]any{"$set": map[string]any{"offlineAt": r.offlineAt()}}); err != nil {
				return fmt.Errorf("fleet: set offlineAt of edge %s: %w", r.summary.Edge, err)
			}
		}
	}
	return nil
}

// markOffline marks every online edge whose last heartbeat is older than
// OfflineAfter of its intervals (offlineAt passed) offline in
// system/edges, and records online 0 in its history at the moment it
// became offline, so that hubs doing it at once record the same point.
// Every hub of a cluster looks (the store is the state): each edge is read
// again just before it is marked, so a hub finding it marked already, or
// given a heartbeat meanwhile, leaves it; the write itself applies only
// while the edge is still due, so a heartbeat stored between that read and
// the write is never undone.
func (f *Fleet) markOffline(ctx context.Context) {
	now := f.now().UTC()
	sel, err := query.CompileSelector(map[string]any{"offlineAt": map[string]any{"$lt": now}})
	if err != nil {
		f.log.Error("fleet: offline selector", "err", err)
		return
	}
	// the write's own condition: a heartbeat another replica stores after
	// the read below moves offlineAt on, and the edge stays online
	// (online is any state but offline: records of older hubs have none)
	stillDue, err := query.CompileSelector(map[string]any{"state": map[string]any{"$ne": control.StateOffline}, "offlineAt": map[string]any{"$lt": now}})
	if err != nil {
		f.log.Error("fleet: offline selector", "err", err)
		return
	}
	docs, err := f.st.Find(ctx, Layer, Collection, store.FindOptions{Selector: sel})
	if err != nil {
		f.log.Warn("fleet: looking for offline edges", "err", err)
		return
	}
	for _, d := range docs {
		edge, _ := d["_id"].(string)
		if f.Judges != nil && !f.Judges(edge) {
			continue
		}
		d, err := f.st.Get(ctx, Layer, Collection, edge)
		if err != nil {
			continue
		}
		r := docRecord(d)
		if r == nil || r.summary.State != control.StateOnline || !now.After(r.offlineAt()) {
			continue
		}
		r.summary.State = control.StateOffline
		if _, err := f.st.UpdateIf(ctx, Layer, Collection, edge, stillDue, map[string]any{"$set": map[string]any{"state": control.StateOffline},
			"$unset": map[string]any{"offlineAt": ""}}); errors.Is(err, store.ErrUnmatched) || errors.Is(err, store.ErrNotFound) {
			continue // a heartbeat came in meanwhile, or the edge was removed
		} else if err != nil {
			f.log.Error("fleet: storing an offline edge", "edge", edge, "err", err)
			continue
		}
		f.log.Warn("fleet: edge offline", "edge", edge, "last_seen", r.summary.LastSeen, "interval", r.interval)
		f.appendHistory(ctx, r.summary, r.offlineAt())
	}
}

// Summaries returns the summary of every edge in system/edges, sorted by id.
func (f *Fleet) Summaries(ctx context.Context) ([]control.EdgeSummary, error) {
	docs, err := f.st.Find(ctx, Layer, Collection, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("fleet: read %s/%s: %w", Layer, Collection, err)
	}
	out := make([]control.EdgeSummary, 0, len(docs))
	for _, d := range docs {
		if r := docRecord(d); r != nil {
			out = append(out, r.summary)
		}
	}
	return out, nil
}

func (f *Fleet) respond(m *nats.Msg, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		f.log.Error("fleet: encoding a reply", "subject", m.Subject, "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		f.log.Warn("fleet: reply not sent", "subject", m.Subject, "err", err)
	}
}

// answerList answers <domain>.fleet.list.
func (f *Fleet) answerList(ctx context.Context, m *nats.Msg) {
	edges, err := f.Summaries(ctx)
	if err != nil {
		f.respond(m, control.FleetListReply{Edges: []control.EdgeSummary{}, Error: control.Errorf(control.CodeInternal, "%v", err)})
		return
	}
	f.respond(m, control.FleetListReply{Edges: edges})
}

// answerStatus answers <domain>.fleet.status.<edge>.
func (f *Fleet) answerStatus(ctx context.Context, m *nats.Msg) {
	edge := subject.Token(m.Subject, 3)
	var reply control.FleetStatusReply
	d, err := f.st.Get(ctx, Layer, Collection, edge)
	var r *edgeRecord
	if err == nil {
		r = docRecord(d)
	}
	switch {
	case r != nil:
		reply = control.FleetStatusReply{Edge: r.summary, Heartbeat: r.heartbeat, Hub: r.hub}
	case err == nil || errors.Is(err, store.ErrNotFound):
		reply.Edge.Edge = edge
		reply.Error = control.Errorf(control.CodeNotFound, "the hub has no heartbeat of edge %q", edge)
	default:
		reply.Edge.Edge = edge
		reply.Error = control.Errorf(control.CodeInternal, "fleet: read the record of edge %q: %v", edge, err)
	}
	f.respond(m, reply)
}
