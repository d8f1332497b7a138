package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
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
	doc       store.Document // the record as last stored
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

// load reads the edge records a previous run of the hub stored, so that
// edges that went silent meanwhile are marked offline and listed.
func (f *Fleet) load(ctx context.Context) error {
	docs, err := f.st.Find(ctx, Layer, Collection, store.FindOptions{})
	if err != nil {
		return fmt.Errorf("fleet: read %s_%s: %w", Layer, Collection, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range docs {
		edge, _ := d["_id"].(string)
		at, ok := d["receivedAt"].(time.Time)
		if edge == "" || !ok {
			continue
		}
		hb, err := json.Marshal(d["heartbeat"])
		if err != nil {
			continue
		}
		r := newRecord(edge, hb, at.UTC())
		if state, _ := d["state"].(string); state == control.StateOffline {
			r.summary.State = control.StateOffline
		}
		r.hub, _ = d["hub"].(map[string]any)
		r.doc = d
		f.edges[edge] = r
	}
	return nil
}

// markOffline marks every online edge whose last heartbeat is older than
// OfflineAfter of its intervals offline, in memory and in system/edges.
func (f *Fleet) markOffline(ctx context.Context) {
	now := f.now()
	var gone []store.Document
	var offline []control.EdgeSummary
	f.mu.Lock()
	for edge, r := range f.edges {
		if r.summary.State != control.StateOnline || now.Sub(r.summary.LastSeen) <= OfflineAfter*r.interval ||
			(f.Judges != nil && !f.Judges(edge)) {
			continue
		}
		r.summary.State = control.StateOffline
		doc := maps.Clone(r.doc)
		r.fill(doc)
		r.doc = doc
		gone = append(gone, doc)
		offline = append(offline, r.summary)
		f.log.Warn("fleet: edge offline", "edge", edge, "last_seen", r.summary.LastSeen, "interval", r.interval)
	}
	f.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	if _, err := f.st.Bulk(ctx, Layer, Collection, gone, false); err != nil {
		f.log.Error("fleet: storing offline edges", "edges", len(gone), "err", err)
	}
	for _, s := range offline {
		f.appendHistory(ctx, s, now.UTC())
	}
}

// Summaries returns the summary of every known edge, sorted by id.
func (f *Fleet) Summaries() []control.EdgeSummary {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]control.EdgeSummary, 0, len(f.edges))
	for _, id := range slices.Sorted(maps.Keys(f.edges)) {
		out = append(out, f.edges[id].summary)
	}
	return out
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
func (f *Fleet) answerList(m *nats.Msg) {
	f.respond(m, control.FleetListReply{Edges: f.Summaries()})
}

// answerStatus answers <domain>.fleet.status.<edge>.
func (f *Fleet) answerStatus(m *nats.Msg) {
	edge := subject.Token(m.Subject, 3)
	f.mu.Lock()
	r, ok := f.edges[edge]
	var reply control.FleetStatusReply
	if ok {
		reply = control.FleetStatusReply{Edge: r.summary, Heartbeat: r.heartbeat, Hub: r.hub}
	}
	f.mu.Unlock()
	if !ok {
		reply.Edge.Edge = edge
		reply.Error = control.Errorf(control.CodeNotFound, "the hub has no heartbeat of edge %q", edge)
	}
	f.respond(m, reply)
}
