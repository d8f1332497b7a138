package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/lease"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
	"github.com/gridedge/gridedge/shared/subject"
)

// Incident fields the service writes besides type, description and details.
const (
	// FieldStatus is "open" while the condition holds, then "resolved".
	FieldStatus = "status"
	// FieldResolvedAt is when the condition cleared.
	FieldResolvedAt = "resolvedAt"
	StatusOpen      = "open"
	StatusResolved  = "resolved"
)

// Options configure a Service.
type Options struct {
	// Config is the service's config section (defaults applied by New).
	Config Config
	// Store is read for inputs and written for incidents; pass a store that
	// publishes change events, so that hub/incidents sees the incidents.
	Store store.Store
	// History fills the windows when this hub takes the rules over
	// (optional: without it windows start empty).
	History history.Reader
	// NC receives the change feed and holds the lease.
	NC *nats.Conn
	// Domain is the first token of the subjects.
	Domain string
	// Instance names this hub in the lease (a unique suffix is added).
	Instance string
	// LeaseReplicas is the replica count of the lease's key-value bucket
	// (default 1; in a cluster of hubs, ingest.replicas).
	LeaseReplicas int
	// Logger receives errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Stats counts what the service did.
type Stats struct {
	// Events counts change events of input documents handled.
	Events uint64 `json:"events"`
	// Evaluations counts rule evaluations.
	Evaluations uint64 `json:"evaluations"`
	// Errors counts evaluations that failed (the rule's state is kept).
	Errors uint64 `json:"errors"`
	// Fired counts incidents created by rules.
	Fired uint64 `json:"fired"`
	// Deduplicated counts firing evaluations of a rule whose incident is open.
	Deduplicated uint64 `json:"deduplicated"`
	// Suppressed counts firings within a rule's cooldown.
	Suppressed uint64 `json:"suppressed"`
	// Resolved counts incidents resolved.
	Resolved uint64 `json:"resolved"`
	// BadData counts incidents raised by the bad-data rules.
	BadData uint64 `json:"badData"`
	// WriteErrors counts incident writes the store refused.
	WriteErrors uint64 `json:"writeErrors"`
	// Takeovers counts the times this hub took the rules over.
	Takeovers uint64 `json:"takeovers"`
	// LastError is the latest evaluation or write error.
	LastError string `json:"lastError,omitempty"`
}

type docKey struct{ layer, collection, id string }

// winKey names a window: a field of a document and a span.
type winKey struct {
	doc  docKey
	path string
	span time.Duration
}

// Service evaluates the alert rules.
type Service struct {
	opts  Options
	cfg   Config
	log   *slog.Logger
	rules []*rule
	bad   *baddata.Engine

	// state of the Run goroutine
	windows map[winKey]*window
	byDoc   map[docKey][]winKey // windows fed by a document
	rulesOf map[docKey][]*rule  // rules reading a document
	open    map[string]string   // rule id -> open incident id
	fired   map[string]time.Time
	holding bool
	seq     uint64 // of the incidents this service created
	// stateMu guards the writes of open, fired and holding (made by the
	// Run goroutine, which reads them without it) and the reads of the
	// NATS responders.
	stateMu sync.Mutex

	mu    sync.Mutex
	stats Stats
}

// New compiles the rules.
func New(opts Options) (*Service, error) {
	cfg := opts.Config
	cfg.Defaults()
	cfg.Enabled = true
	var es config.Errors
	cfg.Validate("services.alerts", &es)
	if err := es.Err(); err != nil {
		return nil, err
	}
	rules, _ := compileRules(cfg.Rules, "services.alerts.rules", &es)
	if opts.Store == nil || opts.NC == nil {
		return nil, errors.New("alerts: a store and a NATS connection are required")
	}
	if err := subject.CheckToken("domain", opts.Domain); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// unique even when hubs share a server name: the lease tells holders
	// apart by it
	opts.Instance += "/" + nats.NewInbox()[len(nats.InboxPrefix):]
	s := &Service{opts: opts, cfg: cfg, log: opts.Logger, rules: rules,
		windows: map[winKey]*window{}, byDoc: map[docKey][]winKey{}, rulesOf: map[docKey][]*rule{},
		open: map[string]string{}, fired: map[string]time.Time{}}
	if len(cfg.BadData) > 0 {
		eng, err := baddata.New(cfg.BadData, baddata.Options{})
		if err != nil {
			return nil, fmt.Errorf("alerts: bad-data rules: %w", err)
		}
		s.bad = eng
	}
	for _, r := range rules {
		for _, in := range r.inputs {
			d := docKey{in.ref.layer, in.ref.collection, in.ref.id}
			k := winKey{d, in.ref.path, in.window}
			if _, ok := s.windows[k]; !ok {
				s.windows[k] = newWindow(in.window)
				s.byDoc[d] = append(s.byDoc[d], k)
			}
			if rs := s.rulesOf[d]; len(rs) == 0 || rs[len(rs)-1] != r {
				s.rulesOf[d] = append(s.rulesOf[d], r)
			}
		}
	}
	return s, nil
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Service) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Service) fail(what string, err error) {
	s.count(func(st *Stats) { st.LastError = what + ": " + err.Error() })
	s.log.Error("alerts: "+what, "err", err)
}

// subjects are the change-event subjects of the inputs.
func (s *Service) subjects() []string {
	seen := map[string]bool{}
	var out []string
	add := func(subj string) {
		if !seen[subj] {
			seen[subj] = true
			out = append(out, subj)
		}
	}
	for d := range s.rulesOf {
		add(subject.StorageChanged(s.opts.Domain, d.layer, d.collection))
	}
	for _, r := range s.cfg.BadData {
		if r.Disabled {
			continue
		}
		if len(r.Match.Collections) == 0 {
			add(subject.StorageChangedAll(s.opts.Domain))
		}
		for _, c := range r.Match.Collections {
			layer, col, ok := strings.Cut(c, "_")
			if !ok || strings.ContainsAny(c, "*?[\\") {
				add(subject.StorageChangedAll(s.opts.Domain))
				continue
			}
			add(subject.StorageChanged(s.opts.Domain, layer, col))
		}
	}
	return out
}

// Run evaluates the rules until ctx is done. ready, when not nil, is
// closed once the change feed is subscribed.
func (s *Service) Run(ctx context.Context, ready chan<- struct{}) error {
	if err := store.PutCollection(ctx, s.opts.Store, s.cfg.Layer, s.cfg.Collection, store.Layer{}); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	l, err := openLease(ctx, s.opts.NC, s.opts.Domain, s.opts.Instance, s.cfg.Lease.Std(), s.opts.LeaseReplicas)
	if err != nil {
		return err
	}
	defer l.Release()
	ch := make(chan *nats.Msg, 1<<16)
	for _, subj := range s.subjects() {
		sub, err := s.opts.NC.ChanSubscribe(subj, ch)
		if err != nil {
			return fmt.Errorf("alerts: subscribe to %s: %w", subj, err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := s.opts.NC.Flush(); err != nil {
		return fmt.Errorf("alerts: subscribe to the change feed: %w", err)
	}
	s.log.Info("alerts started", "rules", len(s.rules), "badData", len(s.cfg.BadData))
	s.tick(ctx, l)
	if ready != nil {
		close(ready)
	}
	t := time.NewTicker(s.cfg.Tick.Std())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			if s.holding {
				s.handle(ctx, m.Data)
			}
		case <-t.C:
			s.tick(ctx, l)
		}
	}
}

// tick renews the lease, takes the rules over when newly held, and
// evaluates the time-dependent rules.
func (s *Service) tick(ctx context.Context, l *lease.Lease) {
	held := l.Renew(ctx)
	took := held && !s.holding
	if took {
		s.takeover(ctx)
	}
	s.stateMu.Lock()
	s.holding = held
	s.stateMu.Unlock()
	if !held {
		return
	}
	now := s.opts.Now()
	for _, r := range s.rules {
		// after a takeover every rule, since events were not followed
		if r.timed || took {
			s.evaluate(ctx, r, now)
		}
	}
	if s.bad != nil {
		s.raise(ctx, s.bad.Tick(now))
	}
}

// takeover fills the windows from the history and the current documents,
// and reads the open incidents and last firing of each rule.
func (s *Service) takeover(ctx context.Context) {
	s.count(func(st *Stats) { st.Takeovers++ })
	now := s.opts.Now()
	for k, w := range s.windows {
		*w = *newWindow(k.span)
		w.since = now
		if k.span > 0 && s.opts.History != nil {
			q := history.Query{Layer: k.doc.layer, Collection: k.doc.collection, IDs: []string{k.doc.id},
				Fields: []string{strings.TrimSuffix(k.path, ".value")}, From: now.Add(-k.span), To: now}
			err := s.opts.History.Select(ctx, q, func(sr history.Series) error {
				for p := range sr.Points {
					if p.Kind == history.KindNumber && !math.IsNaN(p.V) {
						w.add(point{p.Time(), p.V})
					}
				}
				return nil
			})
			if err != nil {
				s.fail("read the history of "+k.doc.layer+"_"+k.doc.collection+"."+k.doc.id+">"+k.path, err)
			}
		}
	}
	for d := range s.byDoc {
		doc, err := s.opts.Store.Get(ctx, d.layer, d.collection, d.id)
		if err == nil {
			s.feed(d, doc)
		} else if !errors.Is(err, store.ErrNotFound) {
			s.fail("read an input", err)
		}
	}
	sort, _ := query.ParseSortJSON([]byte(`{"timestamp": -1}`))
	for _, r := range s.rules {
		sel, err := query.CompileSelector(map[string]any{"details.rule": r.ID})
		if err != nil {
			continue
		}
		docs, err := s.opts.Store.Find(ctx, s.cfg.Layer, s.cfg.Collection, store.FindOptions{Selector: sel, Sort: sort, Limit: 1})
		if err != nil {
			s.fail("read the incidents of rule "+r.ID, err)
			continue
		}
		s.stateMu.Lock()
		delete(s.open, r.ID)
		if len(docs) == 1 {
			if t, ok := docs[0]["timestamp"].(time.Time); ok {
				s.fired[r.ID] = t
			}
			// open or acknowledged by an operator (hub/incidents): the
			// condition has not cleared yet
			if st, _ := docs[0][FieldStatus].(string); st != StatusResolved {
				s.open[r.ID], _ = docs[0][store.FieldID].(string)
			}
		}
		s.stateMu.Unlock()
	}
	s.log.Info("alerts: this hub evaluates the rules", "instance", s.opts.Instance, "open", len(s.open))
}

// handle feeds a changed document to its windows, evaluates the rules
// reading it and runs the bad-data rules on its measurements.
func (s *Service) handle(ctx context.Context, data []byte) {
	var ch store.Change
	if err := json.Unmarshal(data, &ch); err != nil {
		s.log.Warn("alerts: undecodable change event", "err", err)
		return
	}
	if ch.Op == store.OpDelete || ch.Op == store.OpDrop || (ch.Layer == s.cfg.Layer && ch.Collection == s.cfg.Collection) {
		return
	}
	d := docKey{ch.Layer, ch.Collection, ch.ID}
	_, watched := s.byDoc[d]
	if !watched && s.bad == nil {
		return
	}
	doc, err := s.opts.Store.Get(ctx, d.layer, d.collection, d.id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.fail("read an input", err)
		}
		return
	}
	s.count(func(st *Stats) { st.Events++ })
	now := s.opts.Now()
	if watched {
		// each new reading in time order, the rules evaluated after each
		rs := s.readings(ctx, d, doc)
		for i, r := range rs {
			s.windows[r.key].observe(r.t, r.v)
			if i == len(rs)-1 || !rs[i+1].t.Equal(r.t) {
				for _, rule := range s.rulesOf[d] {
					s.evaluate(ctx, rule, now)
				}
			}
		}
	}
	if s.bad != nil {
		if u, ok := measurementsUpdate(d, doc, ch.Fields); ok {
			s.raise(ctx, s.bad.Process([]model.Update{u}, now))
		}
	}
}

// feed adds the document's current values to its windows.
func (s *Service) feed(d docKey, doc store.Document) {
	for _, k := range s.byDoc[d] {
		if v, t, ok := valueAt(doc, k.path); ok {
			s.windows[k].observe(t, v)
		}
	}
}

// reading is a value of a window's field.
type reading struct {
	t   time.Time
	key winKey
	v   any
}

// readings are the readings of document d its windows have not seen, in
// time order: the document's current values and, from the history, those
// written since a window's latest reading. A change event names fields
// and carries no values, so a reading replaced before this hub read the
// document is found in the history, and a spike between two events is not
// missed.
func (s *Service) readings(ctx context.Context, d docKey, doc store.Document) []reading {
	var out []reading
	filled := map[string]time.Time{} // path -> from when the history was read
	for _, k := range s.byDoc[d] {
		v, t, ok := valueAt(doc, k.path)
		if !ok {
			continue
		}
		w := s.windows[k]
		if w.hasLast && !t.After(w.last.t) {
			continue
		}
		out = append(out, reading{t, k, v})
		if s.opts.History == nil {
			continue
		}
		// since the latest reading seen, else since the takeover
		from, to := w.last.t.Add(time.Millisecond), t.Add(-time.Millisecond)
		if !w.hasLast {
			from = w.since.Add(-w.span)
		}
		if f, done := filled[k.path]; to.Before(from) || (done && !from.Before(f)) {
			continue
		}
		filled[k.path] = from
		q := history.Query{Layer: d.layer, Collection: d.collection, IDs: []string{d.id},
			Fields: []string{strings.TrimSuffix(k.path, ".value")}, From: from, To: to}
		err := s.opts.History.Select(ctx, q, func(sr history.Series) error {
			for p := range sr.Points {
				if p.Kind == history.KindNumber {
					for _, k2 := range s.byDoc[d] {
						if k2.path == k.path {
							out = append(out, reading{p.Time(), k2, p.V})
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			s.fail("read the history of "+d.layer+"_"+d.collection+"."+d.id+">"+k.path, err)
		}
	}
	slices.SortStableFunc(out, func(a, b reading) int { return a.t.Compare(b.t) })
	return out
}

// evaluate runs one rule at now and creates, de-duplicates or resolves its
// incident.
func (s *Service) evaluate(ctx context.Context, r *rule, now time.Time) {
	env := make(map[string]any, len(r.inputs))
	values := make(map[string]any, len(r.inputs))
	var latest time.Time // of the readings the rule has seen
	for _, in := range r.inputs {
		w := s.windows[winKey{docKey{in.ref.layer, in.ref.collection, in.ref.id}, in.ref.path, in.window}]
		if w.hasLast && w.last.t.After(latest) {
			latest = w.last.t
		}
		v := w.value(in.agg, now)
		if f, ok := v.(float64); ok && math.IsNaN(f) {
			v = nil
		}
		if v != nil {
			env[in.name] = v // missing stays undefined: 240 - undefined is NaN, not 240
		}
		name := in.name
		if strings.HasPrefix(name, "$") {
			name = in.ref.String()
		}
		values[name] = jsonSafe(v)
	}
	s.count(func(st *Stats) { st.Evaluations++ })
	res, err := r.prog.Eval(env)
	if err != nil {
		s.count(func(st *Stats) { st.Errors++ })
		s.fail("evaluate rule "+r.ID, err)
		return
	}
	firing := truthy(res)
	open := s.open[r.ID]
	switch {
	case firing && open != "":
		s.count(func(st *Stats) { st.Deduplicated++ })
	case firing && r.Cooldown > 0 && !s.fired[r.ID].IsZero() && now.Sub(s.fired[r.ID]) < r.Cooldown.Std():
		s.count(func(st *Stats) { st.Suppressed++ })
	case firing:
		s.seq++
		id := "alert:" + r.ID + ":" + strconv.FormatInt(now.UnixMilli(), 10) + "-" + strconv.FormatUint(s.seq, 10)
		doc := s.incident(r, id, values, latest, now)
		res, err := s.opts.Store.Insert(ctx, s.cfg.Layer, s.cfg.Collection, []store.Document{doc})
		if err == nil && res.Err > 0 {
			err = errors.New(strings.Join(res.Errors, "; "))
		}
		if err != nil {
			s.count(func(st *Stats) { st.WriteErrors++ })
			s.fail("create the incident of rule "+r.ID, err)
			return
		}
		s.stateMu.Lock()
		s.open[r.ID], s.fired[r.ID] = id, now
		s.stateMu.Unlock()
		s.count(func(st *Stats) { st.Fired++ })
		s.log.Info("alert fired", "rule", r.ID, "incident", id)
	case open != "":
		set := map[string]any{FieldStatus: StatusResolved, FieldResolvedAt: now.UTC(), "details.resolvedValues": values}
		_, err := s.opts.Store.UpdateIf(ctx, s.cfg.Layer, s.cfg.Collection, open, notResolved, map[string]any{"$set": set})
		if errors.Is(err, store.ErrUnmatched) {
			// an operator who resolved it already (hub/incidents), even
			// a moment ago, keeps their resolvedAt; the clearing is
			// recorded in details
			set = map[string]any{"details.clearedAt": now.UTC(), "details.resolvedValues": values}
			_, err = s.opts.Store.UpdateByID(ctx, s.cfg.Layer, s.cfg.Collection, open, map[string]any{"$set": set})
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.count(func(st *Stats) { st.WriteErrors++ })
			s.fail("resolve the incident of rule "+r.ID, err)
			return
		}
		s.stateMu.Lock()
		delete(s.open, r.ID)
		s.stateMu.Unlock()
		s.count(func(st *Stats) { st.Resolved++ })
		s.log.Info("alert resolved", "rule", r.ID, "incident", open)
	}
}

// notResolved matches an incident no operator has resolved.
var notResolved = func() *query.Selector {
	s, err := query.CompileSelector(map[string]any{FieldStatus: map[string]any{"$ne": StatusResolved}})
	if err != nil {
		panic(err)
	}
	return s
}()

// incident is the document of a firing rule (seed 3.2.4's shape: type,
// details, description).
func (s *Service) incident(r *rule, id string, values map[string]any, latest, now time.Time) store.Document {
	first := r.inputs[0].ref
	desc := r.Description
	if desc == "" {
		desc = fmt.Sprintf("Alert %s: %s", r.ID, r.Condition)
	} else {
		pairs := []string{"{rule}", r.ID, "{condition}", r.Condition}
		for k, v := range values {
			pairs = append(pairs, "{"+k+"}", fmt.Sprint(v))
		}
		desc = strings.NewReplacer(pairs...).Replace(desc)
	}
	return store.Document{store.FieldID: id, "type": r.Type, "description": desc, FieldStatus: StatusOpen,
		"timestamp": now.UTC(),
		"details": map[string]any{"rule": r.ID, "condition": r.Condition, "values": values,
			"layer": first.layer, "collection": first.collection, "document": first.id, "field": first.field(),
			"timestamp": now.UTC(), "readingTimestamp": latest.UTC()}}
}

// raise writes the incident updates of the bad-data rules (their ids are
// derived from rule, field and reading, so a repeat is a conflict, not a
// second incident).
func (s *Service) raise(ctx context.Context, updates []model.Update) {
	for _, u := range updates {
		if u.Layer != baddata.IncidentLayer || u.Collection != baddata.IncidentCollection {
			continue
		}
		doc := store.Document{store.FieldID: u.ID, "timestamp": u.TS}
		for k, v := range u.Set {
			doc[k] = v
		}
		res, err := s.opts.Store.Insert(ctx, s.cfg.Layer, s.cfg.Collection, []store.Document{doc})
		if err == nil && res.Err > 0 && !strings.Contains(strings.Join(res.Errors, " "), store.ErrConflict.Error()) {
			err = errors.New(strings.Join(res.Errors, "; "))
		}
		if err != nil {
			s.count(func(st *Stats) { st.WriteErrors++ })
			s.fail("create a bad-data incident", err)
			continue
		}
		if res.OK > 0 {
			s.count(func(st *Stats) { st.BadData++ })
		}
	}
}

// measurementsUpdate is the bad-data engine's input for a changed
// document: its changed measurements with their timestamps.
func measurementsUpdate(d docKey, doc store.Document, fields []string) (model.Update, bool) {
	ms, _ := doc["measurements"].(map[string]any)
	if len(ms) == 0 {
		return model.Update{}, false
	}
	set := map[string]any{}
	changed := func(name string) bool {
		if len(fields) == 0 {
			return true
		}
		for _, f := range fields {
			if f == "measurements" || f == model.MeasurementsPrefix+name || strings.HasPrefix(f, model.MeasurementsPrefix+name+".") {
				return true
			}
		}
		return false
	}
	var ts time.Time
	for name, m := range ms {
		if !changed(name) {
			continue
		}
		set[model.MeasurementsPrefix+name] = m
		if mm, ok := m.(map[string]any); ok {
			if t, ok := mm["timestamp"].(time.Time); ok && t.After(ts) {
				ts = t
			}
		}
	}
	if len(set) == 0 {
		return model.Update{}, false
	}
	if ts.IsZero() {
		ts, _ = doc[store.FieldUpdated].(time.Time)
	}
	return model.Update{Layer: d.layer, Collection: d.collection, ID: d.id, Set: set, TS: ts}, true
}

// valueAt reads path of doc: a measurement object gives its value and
// timestamp; otherwise the time is measurementsTimestamp or _updated.
func valueAt(doc store.Document, path string) (any, time.Time, bool) {
	v, ok := query.Get(doc, path)
	if !ok {
		return nil, time.Time{}, false
	}
	var t time.Time
	if m, isObj := v.(map[string]any); isObj {
		if mv, has := m["value"]; has {
			v = mv
			t, _ = m["timestamp"].(time.Time)
		}
	} else if strings.HasSuffix(path, ".value") {
		if m, ok := query.Get(doc, strings.TrimSuffix(path, ".value")); ok {
			if mm, ok := m.(map[string]any); ok {
				t, _ = mm["timestamp"].(time.Time)
			}
		}
	}
	if t.IsZero() {
		t, _ = doc["measurementsTimestamp"].(time.Time)
	}
	if t.IsZero() {
		t, _ = doc[store.FieldUpdated].(time.Time)
	}
	return v, t, true
}

// number reads a numeric value (booleans as 0 and 1).
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case int32:
		return float64(t), true
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case float64:
		return t != 0 && !math.IsNaN(t)
	case string:
		return t != ""
	}
	return true
}

// jsonSafe turns NaN and ±Inf, which JSON cannot carry, into strings.
func jsonSafe(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return v
}
