package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// controlState is the agent's side of the control subjects.
type controlState struct {
	base string // version of the config file's SETTINGS

	mu      sync.Mutex
	trusted []string
	watch   *watch // the watch of the latest push, if any

	requests, applied, refused, rollbacks, autoRollbacks atomic.Uint64
}

func (c *controlState) setTrusted(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trusted = slices.Clone(keys)
}

func (c *controlState) trustedKeys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trusted
}

// ControlStats count control requests; they are part of the heartbeat.
type ControlStats struct {
	// Requests counts control requests of every kind.
	Requests uint64 `json:"requests"`
	// Applied counts maps applied by map.push.
	Applied uint64 `json:"applied"`
	// Refused counts refused map.push and map.rollback requests (unsigned,
	// badly signed, untrusted key, invalid map, …); each is logged at warn
	// level with the reason, the pusher and the key.
	Refused uint64 `json:"refused"`
	// Rollbacks counts rollbacks asked with map.rollback.
	Rollbacks uint64 `json:"rollbacks"`
	// AutoRollbacks counts rollbacks the agent made on its own.
	AutoRollbacks uint64 `json:"autoRollbacks"`
}

func (c *controlState) stats() ControlStats {
	return ControlStats{Requests: c.requests.Load(), Applied: c.applied.Load(), Refused: c.refused.Load(),
		Rollbacks: c.rollbacks.Load(), AutoRollbacks: c.autoRollbacks.Load()}
}

// serveControl answers the edge's control subjects
// (<domain>.edge.<edge>.<action>, subject.EdgeControlActions) on the
// agent's connection, which reaches local apps and, through the leaf
// link, the hub. It subscribes to this edge's subjects only; the hub's
// permissions let an edge subscribe to nothing else.
func (a *Agent) serveControl(ctx context.Context) error {
	a.ctl.setTrusted(a.cfg.Control.TrustedKeys)
	handlers := map[string]func(context.Context, *nats.Msg) any{
		subject.ActionMapPush:     a.handlePush,
		subject.ActionMapRollback: a.handleRollback,
		subject.ActionMapGet:      a.handleMapGet,
		subject.ActionConfigGet:   a.handleConfigGet,
		subject.ActionStatus:      a.handleStatus,
		subject.ActionRead:        a.handleRead,
		subject.ActionWrite:       a.handleWrite,
	}
	for _, action := range subject.EdgeControlActions {
		h := handlers[action]
		subj := subject.EdgeControl(a.cfg.Domain, a.cfg.Edge.ID, action)
		if _, err := a.nc.Subscribe(subj, func(m *nats.Msg) {
			a.ctl.requests.Add(1)
			reply := h(ctx, m)
			if m.Reply == "" {
				return
			}
			data, err := json.Marshal(reply)
			if err != nil {
				a.log.Error("control: encoding a reply", "subject", m.Subject, "err", err)
				return
			}
			if err := m.Respond(data); err != nil {
				a.log.Warn("control: reply not sent", "subject", m.Subject, "err", err)
			}
		}); err != nil {
			return fmt.Errorf("control: subscribe to %s: %w", subj, err)
		}
	}
	// the server knows the subscriptions once Start returns
	if err := a.nc.Flush(); err != nil {
		return fmt.Errorf("control: subscribe: %w", err)
	}
	return nil
}

// decode decodes a request body strictly (unknown fields are errors,
// numbers in untyped fields stay json.Number); an empty body is the zero
// request. Raw JSON fields (the SETTINGS of a push) keep their bytes, so
// the signature covers what was sent.
func decode(data []byte, v any) *control.Error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return control.Errorf(control.CodeBadRequest, "malformed request: %v", err)
	}
	if d.More() {
		return control.Errorf(control.CodeBadRequest, "malformed request: data after the JSON object")
	}
	return nil
}

// refuse audits a refused map request and returns its error.
func (a *Agent) refuse(action string, pusher string, sig *control.Signature, e *control.Error) *control.Error {
	a.ctl.refused.Add(1)
	key := ""
	if sig != nil {
		key = sig.Key
	}
	a.log.Warn("control: "+action+" refused", "audit", true, "code", e.Code, "reason", e.Message, "pusher", pusher, "key", key)
	return e
}

func (a *Agent) verifyOptions() control.VerifyOptions {
	return control.VerifyOptions{Edge: a.cfg.Edge.ID, Trusted: a.ctl.trustedKeys(), MaxAge: a.cfg.Control.MaxSignatureAge.Std()}
}

// settingsError turns a SETTINGS validation error into a reply error with
// every problem in Details.
func settingsError(err error) *control.Error {
	e := &control.Error{Code: control.CodeInvalidSettings, Message: "the map does not validate"}
	var es config.Errors
	if ok := asErrors(err, &es); ok {
		for _, fe := range es {
			e.Details = append(e.Details, fe.Error())
		}
	} else {
		e.Details = []string{err.Error()}
	}
	return e
}

func asErrors(err error, es *config.Errors) bool {
	x, ok := err.(config.Errors)
	if ok {
		*es = x
	}
	return ok
}

// merge applies a partial SETTINGS document to the running one (see
// control.PushRequest.Partial) and returns the merged JSON.
func merge(running, patch []byte) ([]byte, error) {
	var base, p map[string]any
	// numbers stay as written, in the running document as in the patch
	b := json.NewDecoder(bytes.NewReader(running))
	b.UseNumber()
	if err := b.Decode(&base); err != nil {
		return nil, fmt.Errorf("running SETTINGS: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(patch))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("partial SETTINGS must be a JSON object: %w", err)
	}
	for k, v := range p {
		if k != "modbusMaps" {
			base[k] = v
			continue
		}
		maps, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("partial SETTINGS: modbusMaps must be an object of maps")
		}
		bm, _ := base["modbusMaps"].(map[string]any)
		if bm == nil {
			bm = map[string]any{}
		}
		for name, vars := range maps {
			if vars == nil {
				delete(bm, name)
			} else {
				bm[name] = vars
			}
		}
		base["modbusMaps"] = bm
	}
	return json.Marshal(base)
}

// pushed is a validated push: the merged SETTINGS, canonical, and its version.
type pushed struct {
	s       *settings.Settings
	raw     []byte
	version string
}

// prepare validates the document of a push.
func (a *Agent) prepare(req *control.PushRequest) (*pushed, *control.Error) {
	doc := []byte(req.Settings)
	if req.Partial {
		a.mu.RLock()
		running := a.raw
		a.mu.RUnlock()
		var err error
		if doc, err = merge(running, doc); err != nil {
			return nil, control.Errorf(control.CodeBadRequest, "%v", err)
		}
	}
	raw, err := control.Canonical(doc)
	if err != nil {
		return nil, control.Errorf(control.CodeBadRequest, "settings: %v", err)
	}
	version, err := control.MapVersion(raw)
	if err != nil {
		return nil, control.Errorf(control.CodeBadRequest, "%v", err)
	}
	s, err := a.loadSettings(raw)
	if err != nil {
		return &pushed{version: version}, settingsError(err)
	}
	return &pushed{s: s, raw: raw, version: version}, nil
}

func (a *Agent) handlePush(ctx context.Context, m *nats.Msg) any {
	r := &control.PushReply{Edge: a.cfg.Edge.ID, Result: control.ResultRefused}
	var req control.PushRequest
	if e := decode(m.Data, &req); e != nil {
		r.Error = a.refuse("map.push", "", nil, e)
		return r
	}
	if err := control.Verify(&req, a.verifyOptions()); err != nil {
		r.Error = a.refuse("map.push", req.Pusher, req.Signature, control.AsError(err, control.CodeBadSignature))
		return r
	}
	p, e := a.prepare(&req)
	if p != nil {
		r.Pushed = p.version
	}
	if e != nil {
		r.Error = a.refuse("map.push", req.Pusher, req.Signature, e)
		return r
	}
	a.mu.RLock()
	r.Version, r.Previous = a.mapInfo.Version, a.mapInfo.Previous
	a.mu.RUnlock()
	if req.DryRun {
		r.Result = control.ResultDryRun
		r.Changes, r.DryRun = a.dryRun(ctx, p.s)
		return r
	}
	if p.version == r.Version {
		r.Result = control.ResultUnchanged
		return r
	}
	if !a.mapMu.TryLock() {
		r.Error = a.refuse("map.push", req.Pusher, req.Signature, control.Errorf(control.CodeBusy, "another push or rollback is in progress; try again"))
		return r
	}
	w, res, err := a.applyPush(ctx, p, &req)
	a.mapMu.Unlock()
	if err != nil {
		r.Error = control.AsError(err, control.CodeInternal)
		return r
	}
	a.ctl.applied.Add(1)
	r.Result, r.Version, r.Changes = control.ResultApplied, p.version, &res.changes
	a.mu.RLock()
	r.Previous = a.mapInfo.Previous
	a.mu.RUnlock()
	if !req.Confirm {
		return r
	}
	t := time.NewTimer(a.cfg.Control.ConfirmTimeout.Std())
	defer t.Stop()
	select {
	case <-w.settled:
	case <-t.C:
		return r
	case <-ctx.Done():
		return r
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if rb := a.mapInfo.RolledBack; rb != nil && rb.From == p.version {
		r.Result, r.RolledBack, r.Version, r.Previous = control.ResultRolledBack, rb, a.mapInfo.Version, a.mapInfo.Previous
	} else if a.mapInfo.Version == p.version && a.mapInfo.Confirmed {
		r.Result = control.ResultConfirmed
	}
	return r
}

// applyPush swaps a validated map in, keeps the running one as previous,
// persists both and starts watching the new map's first cycles. a.mapMu
// must be held.
func (a *Agent) applyPush(ctx context.Context, p *pushed, req *control.PushRequest) (*watch, *swapResult, error) {
	a.mu.RLock()
	prev := &storedMap{Settings: a.raw, Info: a.mapInfo}
	a.mu.RUnlock()
	prev.Info.Previous, prev.Info.RolledBack = "", nil
	info := control.MapInfo{Version: p.version, Pusher: req.Pusher, Key: req.Signature.Key,
		AppliedAt: time.Now().UTC(), Source: control.SourcePush, Previous: prev.Info.Version}
	a.abandonWatch()
	res, err := a.swap(ctx, p.s, p.raw, info)
	if err != nil {
		return nil, nil, fmt.Errorf("apply map %s: %w", p.version, err)
	}
	a.mu.Lock()
	a.prev = prev
	a.mu.Unlock()
	if err := a.persist(); err != nil {
		a.log.Error("map applied but not persisted: a restart returns to the previous one", "map", p.version, "err", err)
	}
	a.log.Info("control: map applied", "audit", true, "map", p.version, "previous", prev.Info.Version,
		"pusher", req.Pusher, "key", req.Signature.Key, "added", len(res.changes.Added),
		"changed", len(res.changes.Changed), "removed", len(res.changes.Removed), "kept", res.changes.Kept)
	w := a.startWatch(ctx, p.version, res)
	a.ctl.mu.Lock()
	a.ctl.watch = w
	a.ctl.mu.Unlock()
	return w, res, nil
}

// abandonWatch stops watching the previous push: another map replaces it.
func (a *Agent) abandonWatch() {
	a.ctl.mu.Lock()
	w := a.ctl.watch
	a.ctl.watch = nil
	a.ctl.mu.Unlock()
	if w != nil {
		w.abandon()
	}
}

// restorePrevious makes the kept previous map the running one, and the
// running one the previous. a.mapMu must be held.
func (a *Agent) restorePrevious(ctx context.Context, pusher, reason string, automatic bool) (*control.Rollback, error) {
	a.mu.RLock()
	prev := a.prev
	cur := &storedMap{Settings: a.raw, Info: a.mapInfo}
	a.mu.RUnlock()
	if prev == nil {
		return nil, control.Errorf(control.CodeNoPrevious, "no previous map is kept on this edge")
	}
	s, err := a.loadSettings(prev.Settings)
	if err != nil {
		return nil, control.Errorf(control.CodeInternal, "the previous map %s no longer validates: %v", prev.Info.Version, err)
	}
	rb := &control.Rollback{From: cur.Info.Version, To: prev.Info.Version, At: time.Now().UTC(), Reason: reason, Automatic: automatic}
	info := prev.Info
	info.Previous, info.Confirmed, info.RolledBack = cur.Info.Version, true, rb
	if !automatic {
		info.Pusher, info.AppliedAt = pusher, rb.At
	}
	a.abandonWatch()
	if _, err := a.swap(ctx, s, prev.Settings, info); err != nil {
		return nil, fmt.Errorf("restore map %s: %w", prev.Info.Version, err)
	}
	cur.Info.Previous, cur.Info.RolledBack, cur.Info.Confirmed = "", nil, false
	a.mu.Lock()
	a.prev = cur
	a.mu.Unlock()
	if err := a.persist(); err != nil {
		a.log.Error("map restored but not persisted", "map", prev.Info.Version, "err", err)
	}
	if automatic {
		a.ctl.autoRollbacks.Add(1)
	} else {
		a.ctl.rollbacks.Add(1)
	}
	a.log.Warn("control: map rolled back", "audit", true, "from", rb.From, "to", rb.To, "automatic", automatic, "pusher", pusher, "reason", reason)
	return rb, nil
}

func (a *Agent) handleRollback(ctx context.Context, m *nats.Msg) any {
	r := &control.RollbackReply{Edge: a.cfg.Edge.ID}
	var req control.RollbackRequest
	if e := decode(m.Data, &req); e != nil {
		r.Error = a.refuse("map.rollback", "", nil, e)
		return r
	}
	if err := control.Verify(&req, a.verifyOptions()); err != nil {
		r.Error = a.refuse("map.rollback", req.Pusher, req.Signature, control.AsError(err, control.CodeBadSignature))
		return r
	}
	if !a.mapMu.TryLock() {
		r.Error = a.refuse("map.rollback", req.Pusher, req.Signature, control.Errorf(control.CodeBusy, "another push or rollback is in progress; try again"))
		return r
	}
	defer a.mapMu.Unlock()
	rb, err := a.restorePrevious(ctx, req.Pusher, "requested by "+req.Pusher, false)
	if err != nil {
		r.Error = control.AsError(err, control.CodeInternal)
		return r
	}
	r.Version, r.Previous = rb.To, rb.From
	return r
}

func (a *Agent) handleMapGet(_ context.Context, m *nats.Msg) any {
	r := &control.MapGetReply{Edge: a.cfg.Edge.ID}
	var req control.MapGetRequest
	if e := decode(m.Data, &req); e != nil {
		r.Error = e
		return r
	}
	a.mu.RLock()
	r.Map, r.Settings = a.mapInfo, a.raw
	if req.Previous {
		if a.prev == nil {
			r.Error = control.Errorf(control.CodeNoPrevious, "no previous map is kept on this edge")
		} else {
			r.Map, r.Settings = a.prev.Info, a.prev.Settings
		}
	}
	a.mu.RUnlock()
	if r.Settings != nil {
		red, err := redact(r.Settings)
		if err != nil {
			r.Error = control.AsError(err, control.CodeInternal)
		}
		r.Settings = red
	}
	return r
}

func (a *Agent) handleConfigGet(_ context.Context, _ *nats.Msg) any {
	r := &control.ConfigGetReply{Edge: a.cfg.Edge.ID}
	a.mu.RLock()
	c := *a.cfg
	c.Settings = a.settings
	c.SettingsFile = ""
	r.Map = a.mapInfo
	a.mu.RUnlock()
	data, err := json.Marshal(&c)
	if err == nil {
		data, err = redact(data)
	}
	if err != nil {
		r.Error = control.AsError(err, control.CodeInternal)
		return r
	}
	r.Config = data
	return r
}

func (a *Agent) handleStatus(_ context.Context, _ *nats.Msg) any {
	st, err := a.Status()
	if err != nil {
		a.log.Warn("control: status incomplete", "err", err)
	}
	return st
}

// secretKey matches the names of fields whose values are secrets.
var secretKey = regexp.MustCompile(`(?i)(password|secret|token|passphrase|seed)`)

// redact replaces the value of every field that names a secret with
// control.Redacted, at any depth.
func redact(doc []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if s, ok := x.(string); ok && s != "" && secretKey.MatchString(k) {
					t[k] = control.Redacted
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return json.Marshal(v)
}
