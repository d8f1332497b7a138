package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/control"
)

// OfflineAfter is how many heartbeat intervals may pass before an edge
// counts as offline.
const OfflineAfter = 3

// FleetFromStore reads the edges' records (layer system, collection
// edges) and tells which are online: a record's "state" field
// (control.StateOnline or StateOffline) when the fleet view wrote one
// (it applies each edge's own heartbeat interval), else whether its heartbeat arrived within
// OfflineAfter intervals of now. Configured edges without a record are
// offline.
func FleetFromStore(st store.Store, configured []string, interval time.Duration, now func() time.Time) func(ctx context.Context) ([]EdgeHealth, error) {
	proj, err := query.ParseProjection(map[string]any{"receivedAt": 1, "state": 1})
	if err != nil {
		panic(err) // a constant projection
	}
	return func(ctx context.Context) ([]EdgeHealth, error) {
		docs, err := st.Find(ctx, fleet.Layer, fleet.Collection, store.FindOptions{Projection: proj})
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("read %s/%s: %w", fleet.Layer, fleet.Collection, err)
		}
		seen := map[string]bool{}
		var out []EdgeHealth
		t := now()
		for _, d := range docs {
			id, _ := d["_id"].(string)
			if id == "" {
				continue
			}
			seen[id] = true
			e := EdgeHealth{Edge: id, LastSeen: timeOf(d["receivedAt"])}
			switch d["state"] {
			case control.StateOnline:
				e.Online = true
			case control.StateOffline:
			default:
				e.Online = !e.LastSeen.IsZero() && t.Sub(e.LastSeen) <= OfflineAfter*interval
			}
			out = append(out, e)
		}
		for _, id := range configured {
			if !seen[id] {
				out = append(out, EdgeHealth{Edge: id})
			}
		}
		return out, nil
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// timeOf reads a stored time (a time.Time, or RFC 3339 text).
func timeOf(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err == nil {
			return t
		}
	}
	return time.Time{}
}
