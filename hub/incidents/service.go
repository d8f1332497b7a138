package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// Fields the service writes on an incident document.
const (
	// FieldNotifications lists every attempt: {at, target, attempt, status,
	// error}, and every retry an operator asked for: {at, target, retry: true}.
	FieldNotifications = "notifications"
	// FieldState is "delivered" (every target succeeded), "retrying" or
	// "dead" (a target failed MaxAttempts times).
	FieldState = "notificationState"
)

// Notification states.
const (
	StateDelivered = "delivered"
	StateRetrying  = "retrying"
	StateDead      = "dead"
)

// TargetWorkflow is the audit name of the config.notify call.
const TargetWorkflow = "workflow"

// ServiceName is the service's token in subjects (dead letters).
const ServiceName = "incidents"

// Options configure a Service.
type Options struct {
	// Config is the service's config section (defaults applied by New).
	Config Config
	// Store is read for incidents and the layer's config and written for
	// the audit; pass a store that publishes change events.
	Store store.Store
	// NC carries the JetStream work queue and dead letters.
	NC *nats.Conn
	// Domain is the first token of the subjects.
	Domain string
	// SMTP sends e-mail subscriptions (nil: e-mails fail as unconfigured).
	SMTP *notify.SMTPConfig
	// Client makes the HTTP calls (default: a client with Config.Timeout).
	Client *http.Client
	// Logger receives errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock of the audit (default time.Now).
	Now func() time.Time
}

// Service calls the workflows and sends the notifications of incidents.
type Service struct {
	opts Options
	cfg  Config
	log  *slog.Logger

	attempts *prometheus.CounterVec
	outcomes *prometheus.CounterVec

	mu    sync.Mutex
	stats Stats
}

// Stats counts what the service did.
type Stats struct {
	// Incidents counts inserted incidents handled (first delivery).
	Incidents uint64 `json:"incidents"`
	// Attempts counts calls and e-mails tried.
	Attempts uint64 `json:"attempts"`
	// Failures counts attempts that failed.
	Failures uint64 `json:"failures"`
	// Delivered counts targets that succeeded.
	Delivered uint64 `json:"delivered"`
	// Dead counts targets given up after MaxAttempts.
	Dead uint64 `json:"dead"`
	// Skipped counts targets not called again because the document
	// already records their success (a redelivery).
	Skipped uint64 `json:"skipped"`
}

// New checks opts and makes a Service.
func New(opts Options) (*Service, error) {
	cfg := opts.Config
	cfg.Defaults()
	cfg.Enabled = true
	var es config.Errors
	cfg.Validate("services.incidents", &es)
	if err := es.Err(); err != nil {
		return nil, err
	}
	if opts.Store == nil || opts.NC == nil {
		return nil, errors.New("incidents: a store and a NATS connection are required")
	}
	if err := subject.CheckToken("domain", opts.Domain); err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: cfg.Timeout.Std()}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, cfg: cfg, log: opts.Logger}
	s.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gridedge_incident_notification_attempts_total",
		Help: "Calls and e-mails tried for incidents, by kind of target (workflow, email, webhook) and result (ok, error).",
	}, []string{"kind", "result"})
	s.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gridedge_incident_notifications_total",
		Help: "Incident targets finished, by kind of target and outcome (delivered, dead).",
	}, []string{"kind", "outcome"})
	return s, nil
}

// Collectors are the service's Prometheus metrics, for the hub's registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.attempts, s.outcomes}
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

// StreamName is the work-queue stream of the change events of the
// incidents collection.
func StreamName(domain string) string { return "GRIDEDGE_INCIDENTS_" + domain }

// ConsumerName is its durable consumer, shared by every hub.
const ConsumerName = "incidents"

// Run creates the incidents collection when missing, the work queue and its
// consumer, and handles incidents until ctx is done. ready, when not nil,
// is closed once the work queue captures change events.
func (s *Service) Run(ctx context.Context, ready chan<- struct{}) error {
	if err := store.PutCollection(ctx, s.opts.Store, s.cfg.Layer, s.cfg.Collection, store.Layer{Label: "INCIDENTS"}); err != nil {
		return fmt.Errorf("incidents: %w", err)
	}
	js, err := jetstream.New(s.opts.NC)
	if err != nil {
		return fmt.Errorf("incidents: jetstream: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := StreamName(s.opts.Domain)
	stream, err := js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
		Name:        name,
		Description: "change events of the incidents collection, awaiting the incidents service",
		Subjects:    []string{subject.StorageChanged(s.opts.Domain, s.cfg.Layer, s.cfg.Collection), RetryQueue(s.opts.Domain)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * 24 * time.Hour,
		MaxMsgs:     1 << 20,
		Discard:     jetstream.DiscardOld,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("incidents: create stream %s: %w", name, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(cctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "the incidents service of every hub",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       2*s.cfg.Timeout.Std()*time.Duration(maxTargets) + 30*time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 1000,
		Replicas:      s.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("incidents: create consumer %s: %w", ConsumerName, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(s.cfg.Workers))
	if err != nil {
		return fmt.Errorf("incidents: consume: %w", err)
	}
	if ready != nil {
		close(ready)
	}
	s.log.Info("incidents service started", "stream", name, "workers", s.cfg.Workers, "subscriptions", len(s.cfg.Subscriptions))
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				s.handle(ctx, m)
			}
		}()
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			close(msgs)
			wg.Wait()
			<-stopped
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("incidents: consume: %w", err)
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	}
}

// maxTargets bounds the targets the ack wait is sized for.
const maxTargets = 4

// attempt is one audit entry.
type attempt struct {
	At      time.Time `json:"at"`
	Target  string    `json:"target"`
	Attempt int       `json:"attempt"`
	Status  int       `json:"status"`
	Error   string    `json:"error,omitempty"`
}

// target is something to deliver an incident to.
type target struct {
	name, kind string
	deliver    func(ctx context.Context) (int, error)
}

// handle acts on one change event: an inserted incident is delivered to
// its targets; the message is acknowledged when every target is delivered
// or dead, and redelivered after the backoff otherwise.
func (s *Service) handle(ctx context.Context, m jetstream.Msg) {
	var ch store.Change
	if err := json.Unmarshal(m.Data(), &ch); err != nil {
		s.log.Warn("incidents: undecodable change event", "err", err)
		_ = m.Term()
		return
	}
	if ch.Op != store.OpInsert {
		_ = m.Ack()
		return
	}
	retry, err := s.deliver(ctx, ch.ID)
	if err != nil {
		// the store or the layer could not be read: try again later
		s.log.Error("incidents: handle an incident", "id", ch.ID, "err", err)
		_ = m.NakWithDelay(s.cfg.Backoff.Std())
		return
	}
	if retry > 0 {
		_ = m.NakWithDelay(retry)
		return
	}
	_ = m.Ack()
}

// deliver tries every target of incident id not yet delivered or dead,
// records the attempts, and returns the delay before the next try (0:
// finished).
func (s *Service) deliver(ctx context.Context, id string) (time.Duration, error) {
	st := s.opts.Store
	doc, err := st.Get(ctx, s.cfg.Layer, s.cfg.Collection, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // deleted meanwhile
	}
	if err != nil {
		return 0, fmt.Errorf("read incident %s: %w", id, err)
	}
	targets, err := s.targets(ctx, doc)
	if err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, nil
	}
	past := pastAttempts(doc)
	if len(past) == 0 {
		s.count(func(st *Stats) { st.Incidents++ })
	}
	var entries []any
	var retry time.Duration
	dead := false
	for _, t := range targets {
		n, ok := past[t.name].attempts, past[t.name].ok
		if ok {
			s.count(func(st *Stats) { st.Skipped++ })
			continue
		}
		if n >= s.cfg.MaxAttempts {
			dead = true
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.Std())
		status, err := t.deliver(cctx)
		cancel()
		if ctx.Err() != nil {
			return 0, ctx.Err() // stopping: the attempt does not count
		}
		a := attempt{At: s.opts.Now().UTC().Truncate(time.Millisecond), Target: t.name, Attempt: n + 1, Status: status}
		s.count(func(st *Stats) { st.Attempts++ })
		if err == nil {
			s.attempts.WithLabelValues(t.kind, "ok").Inc()
			s.outcomes.WithLabelValues(t.kind, "delivered").Inc()
			s.count(func(st *Stats) { st.Delivered++ })
			s.log.Info("incident delivered", "id", id, "target", t.name, "attempt", n+1, "status", status)
		} else {
			a.Error = err.Error()
			s.attempts.WithLabelValues(t.kind, "error").Inc()
			s.count(func(st *Stats) { st.Failures++ })
			if n+1 >= s.cfg.MaxAttempts {
				dead = true
				s.outcomes.WithLabelValues(t.kind, "dead").Inc()
				s.count(func(st *Stats) { st.Dead++ })
				s.deadLetter(id, t.name, err)
				s.log.Error("incident dead-lettered", "id", id, "target", t.name, "attempts", n+1, "err", err)
			} else {
				d := s.cfg.backoff(n + 1)
				if retry == 0 || d < retry {
					retry = d
				}
				s.log.Warn("incident delivery failed, will retry", "id", id, "target", t.name, "attempt", n+1, "in", d, "err", err)
			}
		}
		entries = append(entries, a)
	}
	if len(entries) == 0 {
		return retry, nil
	}
	state := StateDelivered
	switch {
	case retry > 0:
		state = StateRetrying
	case dead:
		state = StateDead
	}
	update := map[string]any{
		"$push": map[string]any{FieldNotifications: map[string]any{"$each": toJSON(entries)}},
		"$set":  map[string]any{FieldState: state},
	}
	if _, err := st.UpdateByID(ctx, s.cfg.Layer, s.cfg.Collection, id, update); err != nil && !errors.Is(err, store.ErrNotFound) {
		// the calls were made; the next delivery may repeat them, which
		// the idempotency key lets the receiver recognise
		return 0, fmt.Errorf("record the notifications of incident %s: %w", id, err)
	}
	return retry, nil
}

// targets are the workflow of the incident's type and the matching
// subscriptions.
func (s *Service) targets(ctx context.Context, doc store.Document) ([]target, error) {
	id, _ := doc[store.FieldID].(string)
	key := s.businessKey(id)
	body := withoutAudit(doc)
	var ts []target
	typ, _ := doc["type"].(string)
	l, err := s.opts.Store.Layer(ctx, s.cfg.Layer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read layer %s: %w", s.cfg.Layer, err)
	}
	if l != nil {
		w, ok, werr := workflowFor(l, typ)
		if ok {
			ts = append(ts, target{name: TargetWorkflow, kind: "workflow", deliver: func(ctx context.Context) (int, error) {
				if werr != nil {
					return 0, werr
				}
				return w.call(ctx, s.opts.Client, body, key)
			}})
		}
	}
	for i := range s.cfg.Subscriptions {
		sub := &s.cfg.Subscriptions[i]
		if !sub.matches(doc) {
			continue
		}
		switch {
		case sub.Webhook != nil:
			ts = append(ts, target{name: sub.target(), kind: "webhook", deliver: func(ctx context.Context) (int, error) {
				return sub.Webhook.post(ctx, s.opts.Client, s.cfg.Layer, s.cfg.Collection, body, key, s.opts.Now())
			}})
		case sub.Email != nil:
			ts = append(ts, target{name: sub.target(), kind: "email", deliver: func(ctx context.Context) (int, error) {
				if err := sub.Email.send(ctx, s.opts.SMTP, body, key); err != nil {
					return 0, err
				}
				return 250, nil // SMTP's "completed"
			}})
		}
	}
	return ts, nil
}

// businessKey identifies an incident to the receivers of its calls.
func (s *Service) businessKey(id string) string {
	return s.opts.Domain + ":" + s.cfg.Layer + "_" + s.cfg.Collection + ":" + id
}

type pastTarget struct {
	attempts int
	ok       bool
}

// pastAttempts reads the audit of doc per target.
func pastAttempts(doc store.Document) map[string]pastTarget {
	out := map[string]pastTarget{}
	list, _ := doc[FieldNotifications].([]any)
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["target"].(string)
		p := out[name]
		if retry, _ := m["retry"].(bool); retry {
			p.attempts = 0 // an operator's retry (ActionRetry): a new series
			out[name] = p
			continue
		}
		p.attempts++
		if errText, _ := m["error"].(string); errText == "" {
			p.ok = true
		}
		out[name] = p
	}
	return out
}

// withoutAudit is doc without the fields the service writes, so that every
// attempt sends the same document.
func withoutAudit(doc store.Document) store.Document {
	out := make(store.Document, len(doc))
	for k, v := range doc {
		if k != FieldNotifications && k != FieldState && k != store.FieldUpdated {
			out[k] = v
		}
	}
	return out
}

// toJSON turns the entries into plain JSON values for the store.
func toJSON(entries []any) []any {
	out := make([]any, len(entries))
	for i, e := range entries {
		a := e.(attempt)
		m := map[string]any{"at": a.At, "target": a.Target, "attempt": a.Attempt, "status": a.Status}
		if a.Error != "" {
			m["error"] = a.Error
		}
		out[i] = m
	}
	return out
}

// deadLetter publishes the incident's id and the last error on
// <domain>.deadletter.incidents, kept by the hub's dead-letter stream.
func (s *Service) deadLetter(id, target string, cause error) {
	data, _ := json.Marshal(map[string]any{"layer": s.cfg.Layer, "collection": s.cfg.Collection, "id": id,
		"target": target, "attempts": s.cfg.MaxAttempts, "error": cause.Error()})
	m := nats.NewMsg(subject.DeadLetter(s.opts.Domain, ServiceName))
	m.Data = data
	m.Header.Set("GridEdge-Reason", "incident "+id+": "+target+" failed "+fmt.Sprint(s.cfg.MaxAttempts)+" times: "+cause.Error())
	if err := s.opts.NC.PublishMsg(m); err != nil {
		s.log.Error("incidents: publish a dead letter", "id", id, "err", err)
	}
}
