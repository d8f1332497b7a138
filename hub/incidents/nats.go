package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/natsrpc"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/subject"
)

// Actions of <domain>.incidents.<action>.
const (
	// ActionList lists incidents: {"status"?, "type"?, "selector"?, "limit"?}.
	ActionList = "list"
	// ActionGet reads one incident: {"id"}.
	ActionGet = "get"
	// ActionAck acknowledges an open incident: {"id", "by"?, "note"?}.
	ActionAck = "ack"
	// ActionResolve resolves an open or acknowledged incident:
	// {"id", "by"?, "note"?}.
	ActionResolve = "resolve"
	// ActionRetry gives the dead targets of an incident MaxAttempts new
	// attempts: {"id", "target"?}.
	ActionRetry = "retry"
)

// The status of an incident (its "status" field): open (or no status, as
// the seed's and the bad-data rules' incidents have) → acknowledged →
// resolved; open → resolved directly too. hub/alerts writes open and
// resolved; operators acknowledge and resolve.
const (
	FieldStatus = "status"
	// StatusOpen is a new incident's status.
	StatusOpen = "open"
	// StatusAcknowledged: someone is on it.
	StatusAcknowledged = "acknowledged"
	// StatusResolved is final.
	StatusResolved = "resolved"
	// FieldAcknowledgedAt, FieldAcknowledgedBy, FieldResolvedAt,
	// FieldResolvedBy and FieldNote record the transitions.
	FieldAcknowledgedAt = "acknowledgedAt"
	FieldAcknowledgedBy = "acknowledgedBy"
	FieldResolvedAt     = "resolvedAt"
	FieldResolvedBy     = "resolvedBy"
	FieldNote           = "note"
)

// ErrTransition is returned for a status change the state machine does not
// allow (acknowledging a resolved incident).
var ErrTransition = errors.New("status change not allowed")

// QueueGroup is the queue group of the responders, so that one hub of
// several answers each request.
const QueueGroup = "gridedge-incidents"

// DefaultListLimit and MaxListLimit bound the incidents a list returns.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// RetryQueue is the subject the retry action queues an incident on; the
// work-queue stream captures it beside the change events, so a retry is
// delivered at least once like an insert.
func RetryQueue(domain string) string { return subject.Incidents(domain, "retryqueue") }

// Request is the body of a NATS request.
type Request struct {
	// ID names the incident (get, ack, resolve, retry).
	ID string `json:"id,omitempty"`
	// Status keeps incidents of this status (list; "open" includes those
	// without a status).
	Status string `json:"status,omitempty"`
	// Type keeps incidents of this type (list).
	Type string `json:"type,omitempty"`
	// Selector is a MongoDB selector (list).
	Selector map[string]any `json:"selector,omitempty"`
	// Limit caps the list (default 100, at most 1000); newest first.
	Limit int `json:"limit,omitempty"`
	// By names who acknowledges or resolves.
	By string `json:"by,omitempty"`
	// Note is kept with an acknowledgement or resolution.
	Note string `json:"note,omitempty"`
	// Target limits a retry to one dead target ("workflow", "webhook:<id>",
	// "email:<id>"; default every dead target).
	Target string `json:"target,omitempty"`
}

// Reply is the answer, in the REST API's envelope.
type Reply = natsrpc.Reply

// Responder answers <domain>.incidents.<action>.
type Responder = natsrpc.Responder

// Serve subscribes the responders on nc in the queue group QueueGroup.
// Requests are answered one at a time per action (each is a few store
// operations).
func (s *Service) Serve(nc *nats.Conn) (*Responder, error) {
	var eps []natsrpc.Endpoint
	for _, action := range []string{ActionList, ActionGet, ActionAck, ActionResolve, ActionRetry} {
		eps = append(eps, natsrpc.Endpoint{Subject: subject.Incidents(s.opts.Domain, action), Queue: QueueGroup,
			Handle: func(ctx context.Context, data []byte) any { return s.answer(ctx, action, data) }})
	}
	return natsrpc.Serve(nc, natsrpc.Options{Name: "incidents", Log: s.log, Timeout: 10 * time.Second}, eps...)
}

func (s *Service) answer(ctx context.Context, action string, data []byte) Reply {
	var req Request
	if err := natsrpc.Decode(data, &req); err != nil {
		return natsrpc.Error("invalid request: " + err.Error())
	}
	if action != ActionList && req.ID == "" {
		return Reply{Status: "error", Message: "invalid request: id is required"}
	}
	var out any
	var err error
	switch action {
	case ActionList:
		out, err = s.List(ctx, req)
	case ActionGet:
		out, err = s.opts.Store.Get(ctx, s.cfg.Layer, s.cfg.Collection, req.ID)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("no incident %q in %s/%s", req.ID, s.cfg.Layer, s.cfg.Collection)
		}
	case ActionAck:
		out, err = s.SetStatus(ctx, req.ID, StatusAcknowledged, req.By, req.Note)
	case ActionResolve:
		out, err = s.SetStatus(ctx, req.ID, StatusResolved, req.By, req.Note)
	case ActionRetry:
		out, err = s.Retry(ctx, req.ID, req.Target)
	}
	if err != nil {
		return Reply{Status: "error", Message: err.Error()}
	}
	return Reply{Status: "success", Data: out}
}

// List returns the incidents matching req, newest (timestamp) first.
func (s *Service) List(ctx context.Context, req Request) ([]store.Document, error) {
	sel := map[string]any{}
	for k, v := range req.Selector {
		sel[k] = v
	}
	switch req.Status {
	case "":
	case StatusOpen:
		sel[FieldStatus] = map[string]any{"$nin": []any{StatusAcknowledged, StatusResolved}}
	case StatusAcknowledged, StatusResolved:
		sel[FieldStatus] = req.Status
	default:
		return nil, fmt.Errorf("invalid request: status %q is not open, acknowledged or resolved", req.Status)
	}
	if req.Type != "" {
		sel["type"] = req.Type
	}
	limit := req.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return nil, fmt.Errorf("invalid request: limit %d is not between 1 and %d", limit, MaxListLimit)
	}
	cs, err := query.CompileSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("invalid request: selector: %w", err)
	}
	sort, err := query.ParseSortJSON([]byte(`{"timestamp": -1}`))
	if err != nil {
		return nil, err
	}
	docs, err := s.opts.Store.Find(ctx, s.cfg.Layer, s.cfg.Collection, store.FindOptions{Selector: cs, Sort: sort, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list the incidents of %s/%s: %w", s.cfg.Layer, s.cfg.Collection, err)
	}
	if docs == nil {
		docs = []store.Document{}
	}
	return docs, nil
}

// StatusOf is the status of an incident document: its status field, open
// when it has none.
func StatusOf(doc store.Document) string {
	if st, _ := doc[FieldStatus].(string); st != "" {
		return st
	}
	return StatusOpen
}

// NextStatus checks the change of an incident from status from to to:
// open → acknowledged → resolved, open → resolved; the same status again
// is allowed (a repeated request changes nothing).
func NextStatus(from, to string) error {
	switch {
	case to != StatusAcknowledged && to != StatusResolved && to != StatusOpen:
		return fmt.Errorf("%w: %q is not a status (open, acknowledged, resolved)", ErrTransition, to)
	case from == to:
		return nil
	case from == StatusOpen && (to == StatusAcknowledged || to == StatusResolved):
		return nil
	case from == StatusAcknowledged && to == StatusResolved:
		return nil
	}
	return fmt.Errorf("%w: an incident that is %s cannot become %s", ErrTransition, from, to)
}

// SetStatus acknowledges or resolves incident id, recording when, by whom
// and the note; a repeated request returns the document unchanged. The
// write applies only to the status it was decided from: when another
// operator (or hub) changes the status in between, the request is decided
// again on the new status (resolved then cannot become acknowledged).
func (s *Service) SetStatus(ctx context.Context, id, to, by, note string) (store.Document, error) {
	for range setStatusTries {
		doc, err := s.opts.Store.Get(ctx, s.cfg.Layer, s.cfg.Collection, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no incident %q in %s/%s", id, s.cfg.Layer, s.cfg.Collection)
		}
		if err != nil {
			return nil, fmt.Errorf("read incident %s: %w", id, err)
		}
		from := StatusOf(doc)
		if err := NextStatus(from, to); err != nil {
			return nil, fmt.Errorf("incident %s: %w", id, err)
		}
		if from == to {
			return doc, nil
		}
		set := map[string]any{FieldStatus: to}
		at, who := FieldAcknowledgedAt, FieldAcknowledgedBy
		if to == StatusResolved {
			at, who = FieldResolvedAt, FieldResolvedBy
		}
		set[at] = s.opts.Now().UTC().Truncate(time.Millisecond)
		if by != "" {
			set[who] = by
		}
		if note != "" {
			set[FieldNote] = note
		}
		// the status exactly as read: absent counts as open
		var cond any = map[string]any{"$exists": false}
		if v, ok := doc[FieldStatus]; ok {
			cond = v
		}
		still, err := query.CompileSelector(map[string]any{FieldStatus: cond})
		if err != nil {
			return nil, fmt.Errorf("set the status of incident %s: %w", id, err)
		}
		_, err = s.opts.Store.UpdateIf(ctx, s.cfg.Layer, s.cfg.Collection, id, still, map[string]any{"$set": set})
		if errors.Is(err, store.ErrUnmatched) {
			continue // changed meanwhile: decide again
		}
		if err != nil {
			return nil, fmt.Errorf("set the status of incident %s to %s: %w", id, to, err)
		}
		doc, err = s.opts.Store.Get(ctx, s.cfg.Layer, s.cfg.Collection, id)
		if err != nil {
			return nil, fmt.Errorf("read incident %s: %w", id, err)
		}
		return doc, nil
	}
	return nil, fmt.Errorf("set the status of incident %s to %s: its status kept changing meanwhile (%d tries); try again", id, to, setStatusTries)
}

// setStatusTries bounds how often SetStatus decides again after the
// status changed under it.
const setStatusTries = 5

// RetryResult is the answer of a retry.
type RetryResult struct {
	// ID is the incident.
	ID string `json:"id"`
	// Targets are the dead targets given new attempts.
	Targets []string `json:"targets"`
}

// Retry gives the dead targets of incident id (or only target) MaxAttempts
// new attempts: it records a retry entry per target in the audit, which
// restarts its attempt count, and queues the incident on the work queue,
// so the attempts are made at least once, with the usual backoff and dead
// letter.
func (s *Service) Retry(ctx context.Context, id, target string) (*RetryResult, error) {
	doc, err := s.opts.Store.Get(ctx, s.cfg.Layer, s.cfg.Collection, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no incident %q in %s/%s", id, s.cfg.Layer, s.cfg.Collection)
	}
	if err != nil {
		return nil, fmt.Errorf("read incident %s: %w", id, err)
	}
	var dead []string
	for name, p := range pastAttempts(doc) {
		if !p.ok && p.attempts >= s.cfg.MaxAttempts && (target == "" || target == name) {
			dead = append(dead, name)
		}
	}
	slices.Sort(dead)
	if len(dead) == 0 {
		if target != "" {
			return nil, fmt.Errorf("incident %s: target %q is not dead (nothing to retry)", id, target)
		}
		return nil, fmt.Errorf("incident %s has no dead target (notificationState %v): nothing to retry", id, doc[FieldState])
	}
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	entries := make([]any, len(dead))
	for i, name := range dead {
		entries[i] = map[string]any{"at": now, "target": name, "retry": true}
	}
	update := map[string]any{
		"$push": map[string]any{FieldNotifications: map[string]any{"$each": entries}},
		"$set":  map[string]any{FieldState: StateRetrying},
	}
	if _, err := s.opts.Store.UpdateByID(ctx, s.cfg.Layer, s.cfg.Collection, id, update); err != nil {
		return nil, fmt.Errorf("record the retry of incident %s: %w", id, err)
	}
	js, err := jetstream.New(s.opts.NC)
	if err != nil {
		return nil, fmt.Errorf("queue the retry of incident %s: %w", id, err)
	}
	b, _ := json.Marshal(store.Change{Op: store.OpInsert, Layer: s.cfg.Layer, Collection: s.cfg.Collection, ID: id})
	if _, err := js.Publish(ctx, RetryQueue(s.opts.Domain), b); err != nil {
		return nil, fmt.Errorf("queue the retry of incident %s (is the incidents service running?): %w", id, err)
	}
	s.log.Info("incident retry queued", "id", id, "targets", strings.Join(dead, ","))
	return &RetryResult{ID: id, Targets: dead}, nil
}
