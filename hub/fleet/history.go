package fleet

import (
	"context"
	"time"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/shared/control"
)

// HistoryFields are the heartbeat figures the fleet records into the
// history of system/edges/<edge> at each heartbeat (and "online" 0 when an
// edge goes offline), readable by admins with GET
// /api/v2/history/system/edges/<edge>.
var HistoryFields = []string{
	"measurements.online",          // 1 at each heartbeat, 0 when the edge is marked offline
	"measurements.bufferDepth",     // updates waiting in the edge's buffer
	"measurements.oldestUnsentAge", // seconds
	"measurements.slavesUp",
	"measurements.slavesTotal",
	"measurements.uptime", // seconds
}

// historySamples are the samples of one edge's summary at t: all of
// HistoryFields for an online edge, "online" 0 alone for an offline one
// (its other figures are those of its last heartbeat, already recorded).
func historySamples(s control.EdgeSummary, t time.Time) []history.Sample {
	sample := func(field string, v any) history.Sample {
		return history.Sample{Layer: Layer, Collection: Collection, ID: s.Edge, Field: field, T: t, Value: v, Quality: 1}
	}
	if s.State != control.StateOnline {
		return []history.Sample{sample(HistoryFields[0], 0)}
	}
	return []history.Sample{
		sample(HistoryFields[0], 1),
		sample(HistoryFields[1], float64(s.BufferDepth)),
		sample(HistoryFields[2], s.OldestUnsentAge),
		sample(HistoryFields[3], s.SlavesUp),
		sample(HistoryFields[4], s.SlavesTotal),
		sample(HistoryFields[5], s.Uptime),
	}
}

// appendHistory records s at t when the fleet has a history; a failure is
// logged, never fatal: the edge record is stored already.
func (f *Fleet) appendHistory(ctx context.Context, s control.EdgeSummary, t time.Time) {
	if f.History == nil {
		return
	}
	res, err := f.History.Append(ctx, historySamples(s, t))
	switch {
	case err != nil:
		f.log.Warn("fleet: heartbeat figures not recorded in the history", "edge", s.Edge, "err", err)
	case res.Refused > 0:
		f.log.Debug("fleet: heartbeat figures refused by the history", "edge", s.Edge, "refused", res.Refused, "first", res.FirstRefusal)
	}
}
