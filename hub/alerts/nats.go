package alerts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/natsrpc"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// Actions of <domain>.alerts.<action>.
const (
	// ActionList lists the configured rules with their state.
	ActionList = "list"
	// ActionStatus answers the service's counters and whether this hub
	// holds the rules.
	ActionStatus = "status"
	// ActionTest evaluates a rule against the current data without firing:
	// {"rule": {…a rule…}} or {"id": "<configured rule>"}.
	ActionTest = "test"
)

// QueueGroup is the queue group of the list and test responders (one hub
// answers); status is answered by the hub holding the lease only, so that
// it reports the rules' live state.
const QueueGroup = "gridedge-alerts"

// Request is the body of a NATS request.
type Request struct {
	// ID names a configured rule (test).
	ID string `json:"id,omitempty"`
	// Rule is a rule definition to try (test).
	Rule *Rule `json:"rule,omitempty"`
}

// Reply is the answer, in the REST API's envelope.
type Reply = natsrpc.Reply

// RuleState is a configured rule and what the service knows of it.
type RuleState struct {
	Rule
	// Open is the id of the rule's open incident ("" when none), as known
	// by the hub that answers.
	Open string `json:"open,omitempty"`
	// LastFired is when the rule last created an incident.
	LastFired *time.Time `json:"lastFired,omitempty"`
}

// StatusReply is the answer of status.
type StatusReply struct {
	// Instance names the hub.
	Instance string `json:"instance"`
	// Holding is whether this hub evaluates the rules.
	Holding bool `json:"holding"`
	// Rules counts the enabled rules; BadData the bad-data rules.
	Rules   int `json:"rules"`
	BadData int `json:"badData"`
	// Stats are the hub's counters.
	Stats Stats `json:"stats"`
}

// TestResult is the answer of test.
type TestResult struct {
	// Rule is the rule's id.
	Rule string `json:"rule"`
	// Firing is whether the condition holds now.
	Firing bool `json:"firing"`
	// Result is the condition's value.
	Result any `json:"result"`
	// Values are the inputs' values, by variable (inline references by
	// their text); null when an input has no reading.
	Values map[string]any `json:"values"`
	// At is when the rule was evaluated.
	At time.Time `json:"at"`
}

// Responder answers <domain>.alerts.<action>.
type Responder = natsrpc.Responder

// Serve subscribes the responders on nc: list and test in the queue group
// QueueGroup, status on every hub, answered by the one holding the rules
// only (a request with no holder times out).
func (s *Service) Serve(nc *nats.Conn) (*Responder, error) {
	var eps []natsrpc.Endpoint
	for _, action := range []string{ActionList, ActionStatus, ActionTest} {
		ep := natsrpc.Endpoint{Subject: subject.Alerts(s.opts.Domain, action), Queue: QueueGroup,
			Handle: func(ctx context.Context, data []byte) any { return s.answer(ctx, action, data) }}
		if action == ActionStatus {
			ep.Queue, ep.Accept = "", s.isHolding
		}
		eps = append(eps, ep)
	}
	return natsrpc.Serve(nc, natsrpc.Options{Name: "alerts", Log: s.log, Timeout: 10 * time.Second}, eps...)
}

// isHolding is whether this hub holds the rules.
func (s *Service) isHolding() bool {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.holding
}

func (s *Service) answer(ctx context.Context, action string, data []byte) Reply {
	var req Request
	if err := natsrpc.Decode(data, &req); err != nil {
		return natsrpc.Error("invalid request: " + err.Error())
	}
	var out any
	var err error
	switch action {
	case ActionList:
		out = s.List()
	case ActionStatus:
		out = s.Status()
	case ActionTest:
		out, err = s.Test(ctx, req)
	}
	if err != nil {
		return Reply{Status: "error", Message: err.Error()}
	}
	return Reply{Status: "success", Data: out}
}

// List returns the configured rules (disabled ones too) with their open
// incident and last firing.
func (s *Service) List() []RuleState {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	out := make([]RuleState, 0, len(s.cfg.Rules))
	for _, r := range s.cfg.Rules {
		st := RuleState{Rule: r, Open: s.open[r.ID]}
		if t, ok := s.fired[r.ID]; ok {
			t := t.UTC()
			st.LastFired = &t
		}
		out = append(out, st)
	}
	return out
}

// Status returns the counters and whether this hub holds the rules.
func (s *Service) Status() StatusReply {
	s.stateMu.Lock()
	holding := s.holding
	s.stateMu.Unlock()
	return StatusReply{Instance: s.opts.Instance, Holding: holding, Rules: len(s.rules), BadData: len(s.cfg.BadData), Stats: s.Stats()}
}

// Test evaluates a rule (given, or configured by id) at now against the
// current documents, its windows filled from the history; nothing is
// written and no incident is created.
func (s *Service) Test(ctx context.Context, req Request) (*TestResult, error) {
	var def Rule
	switch {
	case req.Rule != nil && req.ID != "":
		return nil, errors.New("invalid request: give id or rule, not both")
	case req.Rule != nil:
		def = *req.Rule
		if def.ID == "" {
			def.ID = "test"
		}
	case req.ID != "":
		found := false
		for _, r := range s.cfg.Rules {
			if r.ID == req.ID {
				def, found = r, true
			}
		}
		if !found {
			return nil, fmt.Errorf("no rule %q in services.alerts.rules", req.ID)
		}
	default:
		return nil, errors.New("invalid request: id or rule is required")
	}
	def.Disabled = false
	var es config.Errors
	r := compileRule(def, "rule", &es)
	if err := es.Err(); err != nil {
		return nil, fmt.Errorf("invalid rule: %w", err)
	}
	now := s.opts.Now()
	env := make(map[string]any, len(r.inputs))
	values := make(map[string]any, len(r.inputs))
	docs := map[docKey]store.Document{}
	for _, in := range r.inputs {
		d := docKey{in.ref.layer, in.ref.collection, in.ref.id}
		w := newWindow(in.window)
		w.since = now
		if in.window > 0 && s.opts.History != nil {
			q := history.Query{Layer: d.layer, Collection: d.collection, IDs: []string{d.id},
				Fields: []string{in.ref.field()}, From: now.Add(-in.window), To: now}
			err := s.opts.History.Select(ctx, q, func(sr history.Series) error {
				for p := range sr.Points {
					if p.Kind == history.KindNumber && !math.IsNaN(p.V) {
						w.add(point{p.Time(), p.V})
					}
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("read the history of %s: %w", in.ref, err)
			}
		}
		doc, seen := docs[d]
		if !seen {
			var err error
			doc, err = s.opts.Store.Get(ctx, d.layer, d.collection, d.id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("read %s_%s.%s: %w", d.layer, d.collection, d.id, err)
			}
			docs[d] = doc
		}
		if doc != nil {
			if v, t, ok := valueAt(doc, in.ref.path); ok {
				w.observe(t, v)
			}
		}
		v := w.value(in.agg, now)
		if f, ok := v.(float64); ok && math.IsNaN(f) {
			v = nil
		}
		if v != nil {
			env[in.name] = v
		}
		name := in.name
		if strings.HasPrefix(name, "$") {
			name = in.ref.String()
		}
		values[name] = jsonSafe(v)
	}
	res, err := r.prog.Eval(env)
	if err != nil {
		return nil, fmt.Errorf("evaluate rule %s: %w", r.ID, err)
	}
	return &TestResult{Rule: r.ID, Firing: truthy(res), Result: jsonSafe(res), Values: values, At: now.UTC()}, nil
}
