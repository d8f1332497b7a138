package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/shared/control"
)

// FleetGrant is the grant key of fleet control: {"fleet": "read"} may read
// an edge's map, {"fleet": "write"} may push and roll back maps; admins
// have both.
const FleetGrant = "fleet"

// FleetConfig configures fleet control through the REST API (docs/api.md,
// docs/security.md).
type FleetConfig struct {
	// SigningKey is the path of an nkey seed file (`gridedge key gen`) with
	// which the hub signs the map pushes and rollbacks asked through
	// /api/v2/fleet. Edges accept them only when this key's public key is
	// among their control.trustedKeys. Default none: the push and rollback
	// routes answer 503 saying how to enable them.
	SigningKey string `json:"signingKey,omitempty"`
}

// validate checks the signing key file when one is set.
func (c FleetConfig) validate() error {
	_, err := fleet.LoadSigningKey(c.SigningKey)
	return err
}

// fleetPrefix starts the paths of the fleet routes.
const fleetPrefix = "/fleet/"

// fleetRoutes are the fleet control routes.
func (s *Server) fleetRoutes() []*route {
	edge := "/fleet/edges/{edge}/map"
	mapBody := &body{schema: map[string]any{"type": "object", "required": []any{"settings"}, "properties": map[string]any{
		"settings": map[string]any{"type": "object", "description": "The SETTINGS document (the agent's modbusSlaves, modbusMaps, period, …): the whole document, or with partial only the parts that change"},
		"dryRun":   map[string]any{"type": "boolean", "default": false, "description": "Validate on the edge and read each new or changed variable once; apply nothing"},
		"partial":  map[string]any{"type": "boolean", "default": false, "description": "settings holds only the maps and slaves that change"},
		"confirm":  map[string]any{"type": "boolean", "default": false, "description": "Answer after the new map's first poll cycles passed (result confirmed) or failed and were rolled back (rolled_back); up to 45 s"}}},
		examples: map[string]any{"dryRun": map[string]any{"dryRun": true, "settings": map[string]any{"period": 1,
			"modbusSlaves": []any{map[string]any{"url": "tcp://10.0.0.5:502", "slaveId": 1, "map": "meter"}},
			"modbusMaps":   map[string]any{"meter": []any{map[string]any{"name": "voltage", "address": 0, "datatype": "16uint"}}}}}}}
	return []*route{
		{method: http.MethodGet, path: "/fleet/key", op: "fleet_key", tag: "fleet", summary: "The hub's fleet signing key", access: loggedIn, resp: respDoc,
			desc: "Whether the hub signs map pushes and rollbacks (fleet.signingKey) and the public key edges must list in control.trustedKeys. Needs the fleet read grant, or admin.",
			h:    s.fleetKey},
		{method: http.MethodGet, path: edge, op: "fleet_map_get", tag: "fleet", summary: "The map an edge runs", access: loggedIn, resp: respDoc,
			desc:  "Asks the edge (map.get over NATS) for its SETTINGS document, version, pusher and kept previous version. Needs the fleet read grant, or admin. 503 when the edge does not answer.",
			query: []param{{name: "previous", typ: "boolean", desc: "The kept previous map instead of the running one"}},
			h:     s.fleetMapGet},
		{method: http.MethodPost, path: edge, op: "fleet_map_push", tag: "fleet", summary: "Push a map to an edge", access: loggedIn, resp: respDoc, body: mapBody,
			desc: "Signs a map.push with the hub's key (fleet.signingKey) for the logged-in user, the pusher the edge records, and sends it to the edge (as `gridedge map push`). " +
				"data is the edge's reply: result (applied, confirmed, unchanged, dry_run, rolled_back), version, previous, pushed, changes, dryRun readings. " +
				"A refusal answers the edge's error with data.error {code, message, details}: 422 for a map that does not validate (every problem in details), " +
				"502 when the edge does not trust the hub's key, 409 when another push runs; 503 when the hub has no signing key or the edge does not answer. Needs the fleet write grant, or admin.",
			h: s.fleetMapPush},
		{method: http.MethodPost, path: edge + "/rollback", op: "fleet_map_rollback", tag: "fleet", summary: "Roll an edge back to its previous map", access: loggedIn, resp: respDoc,
			desc: "Signs a map.rollback with the hub's key for the logged-in user and sends it to the edge: the edge restores the map it ran before its last applied one. 409 when it kept none. Needs the fleet write grant, or admin.",
			h:    s.fleetMapRollback},
	}
}

// fleetAccess checks the caller's fleet grant and that fleet control is available.
func (s *Server) fleetAccess(p *auth.Principal, need auth.Perm) error {
	if !p.Admin && !p.Can(FleetGrant, need) {
		return httpErrorf(http.StatusForbidden, "%s %q needs the grant {%q: %q} (or admin) for fleet control", p.Kind, p.ID, FleetGrant, need.String())
	}
	if s.Fleet == nil {
		return httpErrorf(http.StatusServiceUnavailable, "fleet control is not available on this hub (no NATS connection)")
	}
	return nil
}

// checkOnline answers at once (503) for an edge the fleet marked offline
// (system/edges), instead of waiting for a request to time out; an edge
// the fleet has no record of is asked anyway.
func (s *Server) checkOnline(ctx context.Context, edge string) error {
	d, err := s.Store.Get(ctx, fleet.Layer, fleet.Collection, edge)
	if err != nil {
		return nil // no record (or unreadable): the request decides
	}
	if state, _ := d["state"].(string); state == control.StateOffline {
		seen := "never"
		if t, ok := d["lastSeen"].(time.Time); ok {
			seen = t.UTC().Format(time.RFC3339)
		}
		return httpErrorf(http.StatusServiceUnavailable, "%v: edge %s is offline (last heartbeat %s); nothing was sent", fleet.ErrOffline, edge, seen)
	}
	return nil
}

// pusher is who the edge records for a push: the user's name, or the app.
func pusher(p *auth.Principal) string {
	if p.Kind == auth.KindUser {
		return p.ID
	}
	return fmt.Sprintf("%s %s", p.Kind, p.ID)
}

// fleetKey serves GET /fleet/key.
func (s *Server) fleetKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.fleetAccess(p, auth.Read); err != nil {
		return err
	}
	pub := s.Fleet.PublicKey()
	return success(w, "", map[string]any{"signing": pub != "", "publicKey": pub})
}

// fleetMapGet serves GET /fleet/edges/{edge}/map.
func (s *Server) fleetMapGet(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.fleetAccess(p, auth.Read); err != nil {
		return err
	}
	if err := s.checkOnline(r.Context(), r.PathValue("edge")); err != nil {
		return err
	}
	reply, err := s.Fleet.Map(r.Context(), r.PathValue("edge"), r.URL.Query().Get("previous") == "true")
	if err != nil {
		return s.fleetError(w, err, reply)
	}
	return success(w, "", reply)
}

// fleetPushBody is the body of POST /fleet/edges/{edge}/map.
type fleetPushBody struct {
	Settings json.RawMessage `json:"settings"`
	DryRun   bool            `json:"dryRun"`
	Partial  bool            `json:"partial"`
	Confirm  bool            `json:"confirm"`
}

// fleetMapPush serves POST /fleet/edges/{edge}/map.
func (s *Server) fleetMapPush(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.fleetAccess(p, auth.Write); err != nil {
		return err
	}
	var b fleetPushBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	if t := strings.TrimSpace(string(b.Settings)); t == "" || t == "null" || t[0] != '{' {
		return httpErrorf(http.StatusBadRequest, "settings: want the SETTINGS document as a JSON object")
	}
	edge := r.PathValue("edge")
	if err := s.checkOnline(r.Context(), edge); err != nil {
		return err
	}
	reply, err := s.Fleet.Push(r.Context(), edge, pusher(p), b.Settings, fleet.PushOptions{DryRun: b.DryRun, Partial: b.Partial, Confirm: b.Confirm})
	if err != nil {
		return s.fleetError(w, err, reply)
	}
	s.log().Info("api: map pushed", "edge", edge, "by", pusher(p), "result", reply.Result, "version", reply.Version, "dry_run", b.DryRun)
	return success(w, "", reply)
}

// fleetMapRollback serves POST /fleet/edges/{edge}/map/rollback.
func (s *Server) fleetMapRollback(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.fleetAccess(p, auth.Write); err != nil {
		return err
	}
	edge := r.PathValue("edge")
	if err := s.checkOnline(r.Context(), edge); err != nil {
		return err
	}
	reply, err := s.Fleet.Rollback(r.Context(), edge, pusher(p))
	if err != nil {
		return s.fleetError(w, err, reply)
	}
	s.log().Info("api: map rolled back", "edge", edge, "by", pusher(p), "version", reply.Version)
	return success(w, "", reply)
}

// fleetStatus is the HTTP status of an edge's refusal.
func fleetStatus(code string) int {
	switch code {
	case control.CodeInvalidSettings, control.CodeBadRequest:
		return http.StatusUnprocessableEntity
	case control.CodeBusy, control.CodeNoPrevious:
		return http.StatusConflict
	case control.CodeNotFound:
		return http.StatusNotFound
	}
	// unsigned, untrusted key, bad signature, expired, wrong edge, internal:
	// the edge refused what the hub sent
	return http.StatusBadGateway
}

// fleetError answers a failed control request: an edge's refusal with its
// error (and the reply, which says e.g. the pushed version) as data, the
// hub's own failures as the API's errors.
func (s *Server) fleetError(w http.ResponseWriter, err error, reply any) error {
	var ce *control.Error
	switch {
	case errors.Is(err, fleet.ErrNoSigningKey), errors.Is(err, fleet.ErrOffline):
		return httpErrorf(http.StatusServiceUnavailable, "%v", err)
	case fleet.IsBadEdge(err), fleet.IsBadMap(err):
		return httpErrorf(http.StatusBadRequest, "%v", err)
	case errors.As(err, &ce):
		msg := "the edge refused: " + ce.Error()
		if len(ce.Details) > 0 {
			msg += ": " + strings.Join(ce.Details, "; ")
		}
		if ce.Code == control.CodeUntrustedKey {
			msg += fmt.Sprintf(" (add the hub's key %s to the edge's control.trustedKeys)", s.Fleet.PublicKey())
		}
		writeJSON(w, fleetStatus(ce.Code), envelope{Status: "error", Message: msg, Data: reply})
		return nil
	}
	return err
}
