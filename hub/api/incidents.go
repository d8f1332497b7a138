package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gridedge/gridedge/hub/incidents"
	"github.com/gridedge/gridedge/hub/store"
)

// IncidentsCollection names the collection of the incidents service
// (services.incidents.layer and collection). PATCH of its documents
// follows hub/incidents' state machine for "status": open → acknowledged →
// resolved, open → resolved; anything else is a 409 naming the allowed
// changes.
type IncidentsCollection struct {
	Layer, Collection string
}

// allowedNext lists the statuses an incident of status from may take.
func allowedNext(from string) []string {
	var out []string
	for _, to := range []string{incidents.StatusOpen, incidents.StatusAcknowledged, incidents.StatusResolved} {
		if to != from && incidents.NextStatus(from, to) == nil {
			out = append(out, to)
		}
	}
	return out
}

// isIncidents reports whether layer/col is the incidents collection.
func (s *Server) isIncidents(layer, col string) bool {
	return s.Incidents.Layer != "" && layer == s.Incidents.Layer && col == s.Incidents.Collection
}

// statusTarget returns the status an update (fields to set, or update
// operators) gives a document: ok is false when it leaves "status" alone;
// $unset of status makes it open (a document without status is open). An
// update touching status in another way ($rename, $inc, …) is refused.
func statusTarget(upd map[string]any) (to string, ok bool, err error) {
	field := incidents.FieldStatus
	status := func(v any) (string, bool, error) {
		s, isStr := v.(string)
		if !isStr {
			return "", false, httpErrorf(http.StatusBadRequest, "status: want one of open, acknowledged, resolved, got %v", v)
		}
		return s, true, nil
	}
	if v, has := upd[field]; has {
		return status(v)
	}
	ops := make([]string, 0, len(upd))
	for k := range upd {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	for _, op := range ops {
		if !strings.HasPrefix(op, "$") {
			continue
		}
		args, _ := upd[op].(map[string]any)
		touches := false
		for k, v := range args {
			if k == field || op == "$rename" && v == field {
				touches = true
			}
		}
		switch {
		case !touches:
		case op == "$set":
			return status(args[field])
		case op == "$unset":
			return incidents.StatusOpen, true, nil
		default:
			return "", false, httpErrorf(http.StatusBadRequest, "%s of status: an incident's status changes only by setting it (open, acknowledged, resolved)", op)
		}
	}
	return "", false, nil
}

// checkIncidentStatus refuses (409) an update of incident id that changes
// its status against the state machine. An incident that does not exist is
// left to the update (a 404).
func (s *Server) checkIncidentStatus(ctx context.Context, id string, upd map[string]any) error {
	to, ok, err := statusTarget(upd)
	if err != nil || !ok {
		return err
	}
	doc, err := s.Store.Get(ctx, s.Incidents.Layer, s.Incidents.Collection, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read incident %s: %w", id, err)
	}
	from := incidents.StatusOf(doc)
	if err := incidents.NextStatus(from, to); err != nil {
		next := allowedNext(from)
		allowed := "none: " + from + " is final"
		if len(next) > 0 {
			allowed = from + " → " + strings.Join(next, " or ")
		}
		return httpErrorf(http.StatusConflict, "incident %s: %v (allowed: %s)", id, err, allowed)
	}
	return nil
}

// checkIncidentDocs checks the status changes of a multi-document PATCH
// (each document is {_id, fields…}); the first refusal refuses them all,
// before anything is written.
func (s *Server) checkIncidentDocs(ctx context.Context, docs []store.Document) error {
	for _, d := range docs {
		id, _ := d[store.FieldID].(string)
		if id == "" {
			continue // the store answers the missing _id
		}
		upd := map[string]any(d)
		if err := s.checkIncidentStatus(ctx, id, upd); err != nil {
			return err
		}
	}
	return nil
}
