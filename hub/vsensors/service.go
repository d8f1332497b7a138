package vsensors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/lease"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
	"github.com/gridedge/gridedge/shared/subject"
)

// QueueGroup is the queue group of the change-feed subscription: each
// change event is handled by one hub.
const QueueGroup = "gridedge-vsensors"

// StatsSubject is <domain>.vsensors.stats: every hub running the service
// answers {"instance", "stats": Stats} (a request gets the first answer).
func StatsSubject(domain string) string { return subject.VSensors(domain, "stats") }

// Options configure a Service.
type Options struct {
	// Config is the service's config section (defaults applied by New).
	Config Config
	// Store is read for inputs and written for outputs; pass a store that
	// publishes change events (store.WithChanges) and records history.
	Store store.Store
	// NC receives the change feed and holds the poll lease.
	NC *nats.Conn
	// Domain is the first token of the subjects.
	Domain string
	// Logger receives errors (default: discarded).
	Logger *slog.Logger
	// Instance names this hub in the poll lease (default: a unique name).
	Instance string
	// LeaseReplicas is the replica count of the poll lease's key-value bucket
	// (default 1; in a cluster of hubs, ingest.replicas).
	LeaseReplicas int
	// Converter applies the converters of Config.Converters (required
	// when it names any).
	Converter Converter
}

// Service computes the virtual sensors of one settings document.
type Service struct {
	opts  Options
	cfg   Config
	st    store.Store
	eng   *vsensor.Engine
	g     *graph
	log   *slog.Logger
	lease *lease.Lease

	// state of the worker goroutine
	lastSeen map[docKey]time.Time // _updated of each input last fed
	bad      map[string]bool      // sensors whose output is marked bad

	mu    sync.Mutex
	stats Stats
}

// Stats counts what the service did.
type Stats struct {
	// Events counts change events of input documents handled.
	Events uint64 `json:"events"`
	// Outputs counts output documents written.
	Outputs uint64 `json:"outputs"`
	// MarkedBad counts outputs marked with quality bad.
	MarkedBad uint64 `json:"markedBad"`
	// ConvertErrors counts outputs whose converter failed (the output is
	// marked bad instead).
	ConvertErrors uint64 `json:"convertErrors"`
	// WriteErrors counts outputs the store refused.
	WriteErrors uint64 `json:"writeErrors"`
	// Refreshed counts inputs read again because another hub saw them change.
	Refreshed uint64 `json:"refreshed"`
	// Polls counts the ticks on which this hub computed poll-mode sensors.
	Polls uint64 `json:"polls"`
	// Sensors are the engine's counters per sensor (<collection>.<id>).
	Sensors map[string]vsensor.SensorStats `json:"sensors"`
}

// New compiles the settings of opts.Config and refuses loops.
func New(opts Options) (*Service, error) {
	cfg := opts.Config
	cfg.Defaults()
	settings, err := cfg.Load()
	if err != nil {
		return nil, fmt.Errorf("virtual sensors: %w", err)
	}
	g, err := analyse(settings)
	if err != nil {
		return nil, fmt.Errorf("virtual sensors: %w", err)
	}
	eng, err := vsensor.New(settings)
	if err != nil {
		return nil, fmt.Errorf("virtual sensors: %w", err)
	}
	var es config.Errors
	validateConverters(cfg.Converters, g, "services.vsensors", &es)
	if err := es.Err(); err != nil {
		return nil, fmt.Errorf("virtual sensors: %w", err)
	}
	if len(cfg.Converters) > 0 && opts.Converter == nil {
		return nil, errors.New("virtual sensors: services.vsensors.converters needs the converters service (services.converters.enabled)")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Instance == "" {
		opts.Instance = nats.NewInbox()[len(nats.InboxPrefix):]
	}
	return &Service{opts: opts, cfg: cfg, st: opts.Store, eng: eng, g: g, log: log,
		lastSeen: map[docKey]time.Time{}, bad: map[string]bool{}}, nil
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.Sensors = s.eng.Stats()
	return st
}

func (s *Service) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Run creates the output collections that are missing, loads the inputs,
// subscribes to the change feed and computes sensors until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	for _, name := range s.g.order {
		out := s.g.sensorOut[name]
		if err := store.PutCollection(ctx, s.st, out.layer, out.collection, store.Layer{}); err != nil {
			return fmt.Errorf("virtual sensors: %w", err)
		}
	}
	// only the change events of the input collections
	ch := make(chan *nats.Msg, 1<<16)
	subscribed := map[string]bool{}
	for in := range s.g.inputs {
		subj := subject.StorageChanged(s.opts.Domain, in.layer, in.collection)
		if subscribed[subj] {
			continue
		}
		subscribed[subj] = true
		sub, err := s.opts.NC.ChanQueueSubscribe(subj, QueueGroup, ch)
		if err != nil {
			return fmt.Errorf("virtual sensors: subscribe to the change feed: %w", err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := s.opts.NC.Flush(); err != nil {
		return fmt.Errorf("virtual sensors: subscribe to the change feed: %w", err)
	}
	hasPoll := false
	for _, p := range s.g.poll {
		hasPoll = hasPoll || p
	}
	if hasPoll {
		l, err := newLease(ctx, s.opts.NC, s.opts.Domain, s.opts.Instance, s.cfg.Lease.Std(), s.opts.LeaseReplicas)
		if err != nil {
			return fmt.Errorf("virtual sensors: poll %w", err)
		}
		s.lease = l
		defer s.lease.Release()
	}
	stats, err := s.opts.NC.Subscribe(StatsSubject(s.opts.Domain), func(m *nats.Msg) {
		b, err := json.Marshal(map[string]any{"instance": s.opts.Instance, "stats": s.Stats()})
		if err == nil {
			_ = m.Respond(b)
		}
	})
	if err != nil {
		return fmt.Errorf("virtual sensors: subscribe to %s: %w", StatsSubject(s.opts.Domain), err)
	}
	defer func() { _ = stats.Unsubscribe() }()
	s.log.Info("virtual sensors started", "sensors", len(s.g.order), "inputs", len(s.g.inputs), "poll", hasPoll)
	tick := time.NewTicker(s.cfg.Tick.Std())
	defer tick.Stop()
	s.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			s.handle(ctx, m.Data)
		case <-tick.C:
			s.tick(ctx)
		}
	}
}

// handle feeds one change event to the engine and writes the outputs.
func (s *Service) handle(ctx context.Context, data []byte) {
	var ch store.Change
	if err := json.Unmarshal(data, &ch); err != nil {
		s.log.Warn("virtual sensors: undecodable change event", "err", err)
		return
	}
	key := docKey{ch.Layer, ch.Collection, ch.ID}
	if _, own := s.g.outputs[key]; own {
		return // the engine fed the output to the sensors using it already
	}
	sensors := s.g.inputs[key]
	if len(sensors) == 0 || ch.Op == store.OpDelete || ch.Op == store.OpDrop {
		return
	}
	doc, err := s.st.Get(ctx, key.layer, key.collection, key.id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("virtual sensors: read an input", "doc", key, "err", err)
		}
		return
	}
	s.count(func(st *Stats) { st.Events++ })
	// the other inputs, as the store has them now (another hub may have
	// handled their events)
	for _, name := range sensors {
		for _, in := range s.g.sensorIn[name] {
			if in != key {
				s.refresh(ctx, in)
			}
		}
	}
	seen := updatedOf(doc)
	s.lastSeen[key] = seen
	u := updateOf(key, doc, ch.Fields)
	before := s.eng.Stats()
	s.emit(ctx, s.eng.Observe([]model.Update{u}, seen), before, false)
}

// refresh feeds input in to the engine when its _updated differs from what
// was fed last.
func (s *Service) refresh(ctx context.Context, in docKey) {
	doc, err := s.st.Get(ctx, in.layer, in.collection, in.id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("virtual sensors: read an input", "doc", in, "err", err)
		}
		return
	}
	seen := updatedOf(doc)
	if last, ok := s.lastSeen[in]; ok && last.Equal(seen) {
		return
	}
	s.lastSeen[in] = seen
	s.count(func(st *Stats) { st.Refreshed++ })
	// outputs of a partial state are not written; the triggering event's are
	_ = s.eng.Observe([]model.Update{updateOf(in, doc, nil)}, seen)
}

// tick computes the poll-mode sensors that are due, on the lease holder.
func (s *Service) tick(ctx context.Context) {
	if s.lease == nil || !s.lease.Renew(ctx) {
		return
	}
	now := time.Now()
	if due := s.eng.PollDue(); !due.IsZero() && now.Before(due) {
		return
	}
	for name, poll := range s.g.poll {
		if poll {
			for _, in := range s.g.sensorIn[name] {
				s.refresh(ctx, in)
			}
		}
	}
	s.count(func(st *Stats) { st.Polls++ })
	before := s.eng.Stats()
	s.emit(ctx, s.eng.Poll(now), before, true)
}

// emit writes the outputs and marks bad the sensors that failed.
func (s *Service) emit(ctx context.Context, outs []model.Update, before map[string]vsensor.SensorStats, poll bool) {
	for i := range outs {
		u := &outs[i]
		name := u.Layer + "_" + u.Collection + "." + u.ID
		if err := s.convert(ctx, name, u); err != nil {
			s.count(func(st *Stats) { st.ConvertErrors++ })
			if !s.bad[name] {
				s.markBad(ctx, name, err.Error())
			}
			continue
		}
		if err := s.write(ctx, u); err != nil {
			s.count(func(st *Stats) { st.WriteErrors++ })
			s.log.Error("virtual sensors: write an output", "sensor", name, "err", err)
			continue
		}
		s.bad[name] = false
		s.count(func(st *Stats) { st.Outputs++ })
	}
	after := s.eng.Stats()
	for name, a := range after {
		b := before[name]
		if s.bad[name] {
			continue
		}
		switch {
		case a.Errors > b.Errors:
			s.markBad(ctx, name, a.LastError)
		case poll && s.g.poll[name] && a.Missing > b.Missing:
			s.markBad(ctx, name, "an input without default is unknown")
		case !s.g.poll[name] && a.Stale > b.Stale:
			// stale because an input is old (the seed's rule: no output), or
			// because it does not exist (bad)
			if missing := s.missingInput(ctx, name); missing != "" {
				s.markBad(ctx, name, "input "+missing+" does not exist")
			}
		}
	}
}

// missingInput names a property the sensor references that the store
// does not have ("" when all exist).
func (s *Service) missingInput(ctx context.Context, name string) string {
	docs := map[docKey]store.Document{}
	for _, p := range s.g.props[name] {
		d, seen := docs[p.doc]
		if !seen {
			var err error
			if d, err = s.st.Get(ctx, p.doc.layer, p.doc.collection, p.doc.id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return "" // cannot tell
			}
			docs[p.doc] = d
		}
		if d == nil {
			return p.doc.String()
		}
		if _, ok := lookup(d, p.route); !ok && p.route != "" {
			return p.doc.String() + ">" + p.route
		}
	}
	return ""
}

// markBad sets quality 0 on the measurements of a sensor's output.
func (s *Service) markBad(ctx context.Context, name, why string) {
	out := s.g.sensorOut[name]
	if len(s.g.measures[name]) == 0 {
		return
	}
	set := map[string]any{}
	for _, m := range s.g.measures[name] {
		set[model.MeasurementsPrefix+m+".quality"] = model.QualityBad
		set[model.MeasurementsPrefix+m+".virtual"] = true
	}
	u := model.Update{Layer: out.layer, Collection: out.collection, ID: out.id, Set: set}
	if err := s.write(ctx, &u); err != nil {
		s.log.Error("virtual sensors: mark an output bad", "sensor", name, "err", err)
		return
	}
	s.bad[name] = true
	s.count(func(st *Stats) { st.MarkedBad++ })
	s.log.Warn("virtual sensors: output marked bad", "sensor", name, "reason", why)
}

// write sets u's fields on its document, each measurement with
// "virtual": true, creating the document when missing.
func (s *Service) write(ctx context.Context, u *model.Update) error {
	set := make(map[string]any, len(u.Set))
	for k, v := range u.Set {
		if m, ok := v.(map[string]any); ok && strings.HasPrefix(k, model.MeasurementsPrefix) && !strings.Contains(k[len(model.MeasurementsPrefix):], ".") {
			if _, has := m["virtual"]; !has {
				m["virtual"] = true
			}
		}
		set[k] = v
	}
	_, err := s.st.UpdateByID(ctx, u.Layer, u.Collection, u.ID, set)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	doc := store.Document{store.FieldID: u.ID}
	for k, v := range set {
		setPath(doc, k, v)
	}
	res, err := s.st.Insert(ctx, u.Layer, u.Collection, []store.Document{doc})
	if err == nil && res.Err > 0 {
		if strings.Contains(strings.Join(res.Errors, " "), store.ErrConflict.Error()) {
			_, err = s.st.UpdateByID(ctx, u.Layer, u.Collection, u.ID, set) // created meanwhile
			return err
		}
		return fmt.Errorf("insert %s: %s", u.ID, strings.Join(res.Errors, "; "))
	}
	return err
}

// setPath sets the dotted path in doc, making objects on the way.
func setPath(doc map[string]any, path string, v any) {
	seg, rest, nested := strings.Cut(path, ".")
	if !nested {
		doc[seg] = v
		return
	}
	child, ok := doc[seg].(map[string]any)
	if !ok {
		child = map[string]any{}
		doc[seg] = child
	}
	setPath(child, rest, v)
}

// updateOf is the engine's input for a changed document: the changed
// fields (all of them when fields is empty) with their values now.
func updateOf(key docKey, doc store.Document, fields []string) model.Update {
	if len(fields) == 0 {
		fields = store.TopFields(doc)
	}
	set := make(map[string]any, len(fields))
	var ts time.Time
	for _, f := range fields {
		if f == store.FieldID || f == store.FieldUpdated || f == "_expired" {
			continue
		}
		v, ok := lookup(doc, f)
		if !ok {
			continue
		}
		set[f] = v
		if m, ok := v.(map[string]any); ok {
			if t, ok := m["timestamp"].(time.Time); ok && t.After(ts) {
				ts = t
			}
		}
	}
	if t, ok := doc["measurementsTimestamp"].(time.Time); ok && ts.IsZero() {
		ts = t
	}
	if ts.IsZero() {
		ts = updatedOf(doc)
	}
	return model.Update{Layer: key.layer, Collection: key.collection, ID: key.id, Set: set, TS: ts}
}

func lookup(doc map[string]any, path string) (any, bool) {
	var v any = doc
	for _, seg := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

// updatedOf is the document's _updated (now when absent).
func updatedOf(doc store.Document) time.Time {
	if t, ok := doc[store.FieldUpdated].(time.Time); ok {
		return t
	}
	return time.Now()
}
