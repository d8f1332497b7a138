package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// Sink delivers events to a peer.
type Sink interface {
	// Send returns nil only once the peer confirmed every event (RabbitMQ
	// publisher confirms, Kafka acks from all in-sync replicas, a 2xx
	// answer). An error means some may have arrived and all are sent again.
	Send(ctx context.Context, events []Event) error
	// Close releases the connection.
	Close() error
}

// Converter applies a data-model converter by id (hub/convert.Registry).
type Converter interface {
	Apply(ctx context.Context, id string, doc map[string]any) (any, error)
}

// StreamName is the stream that keeps the change events of every layer an
// outbound bridge forwards until each bridge delivered them.
func StreamName(domain string) string { return "GRIDEDGE_BRIDGES_" + domain }

// ConsumerName is the durable consumer of bridge name.
func ConsumerName(name string) string { return "bridge-" + name }

// EnsureStream creates or updates the bridges' stream so that it captures
// the change events of layers (every outbound bridge's, together), and
// deletes the durable consumers of bridges no longer configured (names are
// the outbound bridges), whose interest would keep messages forever. The
// stream has interest retention: a change event is removed once every
// bridge whose layers it belongs to acknowledged it. With no layers it
// deletes the stream.
func EnsureStream(ctx context.Context, nc *nats.Conn, domain string, layers, names []string, replicas int) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("bridges: jetstream: %w", err)
	}
	name := StreamName(domain)
	if len(layers) == 0 {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("bridges: delete stream %s: %w", name, err)
		}
		return nil
	}
	subjects := layerSubjects(domain, layers)
	if replicas < 1 {
		replicas = 1
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "change events awaiting the outbound bridges",
		Subjects:    subjects,
		Retention:   jetstream.InterestPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * 24 * time.Hour,
		MaxBytes:    8 << 30,
		Discard:     jetstream.DiscardOld,
		Replicas:    replicas,
	})
	if err != nil {
		return fmt.Errorf("bridges: create stream %s for %s (a layer whose change events another stream takes, such as the incidents layer, cannot be bridged): %w",
			name, strings.Join(subjects, ", "), err)
	}
	keep := map[string]bool{}
	for _, n := range names {
		keep[ConsumerName(n)] = true
	}
	lister := st.ConsumerNames(ctx)
	var stale []string
	for c := range lister.Name() {
		if strings.HasPrefix(c, "bridge-") && !keep[c] {
			stale = append(stale, c)
		}
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("bridges: list consumers of %s: %w", name, err)
	}
	for _, c := range stale {
		if err := st.DeleteConsumer(ctx, c); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("bridges: delete the consumer %s of a removed bridge: %w", c, err)
		}
	}
	return nil
}

func layerSubjects(domain string, layers []string) []string {
	out := make([]string, 0, len(layers))
	for _, l := range layers {
		out = append(out, subject.StorageChanged(domain, l, ">"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// OutboundOptions configure an Outbound.
type OutboundOptions struct {
	// Config is the bridge (direction out; defaults applied by NewOutbound).
	Config Config
	// NC carries the bridges' stream (made by EnsureStream).
	NC *nats.Conn
	// Domain is the first token of the subjects.
	Domain string
	// Store is read for the documents of change events.
	Store store.Store
	// Converters applies Config.Converter (required when it is set).
	Converters Converter
	// Sink delivers the events; Run closes it.
	Sink Sink
	// Replicas of the durable consumer (default 1).
	Replicas int
	// Logger (default: discarded).
	Logger *slog.Logger
}

// Outbound forwards change events to a Sink.
type Outbound struct {
	opts OutboundOptions
	cfg  Config
	log  *slog.Logger

	mu    sync.Mutex
	stats OutboundStats
}

// OutboundStats count what an Outbound did.
type OutboundStats struct {
	// Sent counts events the peer confirmed.
	Sent uint64 `json:"sent"`
	// Batches counts confirmed batches.
	Batches uint64 `json:"batches"`
	// Failures counts sends that failed (and were tried again).
	Failures uint64 `json:"failures"`
	// Gone counts insert and update events whose document was deleted
	// before it could be read (not sent; the delete event follows).
	Gone uint64 `json:"gone"`
	// Unconvertible counts events the converter failed on (not sent).
	Unconvertible uint64 `json:"unconvertible"`
}

// NewOutbound checks opts and makes an Outbound.
func NewOutbound(opts OutboundOptions) (*Outbound, error) {
	cfg := opts.Config
	cfg.Direction = Out
	cfg.Defaults()
	if opts.NC == nil || opts.Store == nil || opts.Sink == nil {
		return nil, fmt.Errorf("bridge %s: a NATS connection, a store and a sink are required", cfg.Name)
	}
	if cfg.Converter != "" && opts.Converters == nil {
		return nil, fmt.Errorf("bridge %s: converter %q needs services.converters", cfg.Name, cfg.Converter)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Replicas < 1 {
		opts.Replicas = 1
	}
	return &Outbound{opts: opts, cfg: cfg, log: opts.Logger.With("bridge", cfg.Name)}, nil
}

// Stats returns the counters.
func (o *Outbound) Stats() OutboundStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

func (o *Outbound) count(f func(*OutboundStats)) {
	o.mu.Lock()
	f(&o.stats)
	o.mu.Unlock()
}

// Run creates the bridge's durable consumer (new bridges start with the
// changes made from now on) and forwards until ctx is done; ready, when
// not nil, is closed once the consumer exists. It closes the sink.
func (o *Outbound) Run(ctx context.Context, ready chan<- struct{}) error {
	defer o.opts.Sink.Close()
	js, err := jetstream.New(o.opts.NC)
	if err != nil {
		return fmt.Errorf("bridge %s: jetstream: %w", o.cfg.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cons, err := js.CreateOrUpdateConsumer(cctx, StreamName(o.opts.Domain), jetstream.ConsumerConfig{
		Durable:        ConsumerName(o.cfg.Name),
		Description:    fmt.Sprintf("outbound %s bridge %s", o.cfg.Type, o.cfg.Name),
		FilterSubjects: layerSubjects(o.opts.Domain, o.cfg.Layers),
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        o.cfg.Timeout.Std() + 30*time.Second,
		MaxDeliver:     -1,
		MaxAckPending:  2 * o.cfg.Batch,
		Replicas:       o.opts.Replicas,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("bridge %s: create consumer %s: %w", o.cfg.Name, ConsumerName(o.cfg.Name), err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * o.cfg.Batch))
	if err != nil {
		return fmt.Errorf("bridge %s: consume: %w", o.cfg.Name, err)
	}
	defer it.Stop()
	if ready != nil {
		close(ready)
	}
	o.log.Info("outbound bridge started", "type", o.cfg.Type, "layers", o.cfg.Layers)
	batch := make([]jetstream.Msg, 0, o.cfg.Batch)
	for {
		batch = batch[:0]
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bridge %s: consume: %w", o.cfg.Name, err)
		}
		batch = append(batch, m)
		for len(batch) < o.cfg.Batch {
			m, err := it.Next(jetstream.NextMaxWait(2 * time.Millisecond))
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		if err := o.forward(ctx, batch); err != nil {
			// stopping: the unacknowledged batch is sent again by the next run
			for _, m := range batch {
				_ = m.Nak()
			}
			return nil
		}
	}
}

// forward sends one batch until the peer confirms it, then acknowledges
// it; it returns an error only when ctx ends first.
func (o *Outbound) forward(ctx context.Context, msgs []jetstream.Msg) error {
	bo := Backoff{Max: o.cfg.MaxBackoff.Std()}
	var events []Event
	for {
		var err error
		if events == nil {
			events, err = o.events(ctx, msgs)
		}
		if err == nil {
			if len(events) == 0 {
				break
			}
			sctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout.Std())
			err = o.opts.Sink.Send(sctx, events)
			cancel()
			if err == nil {
				o.count(func(s *OutboundStats) { s.Sent += uint64(len(events)); s.Batches++ })
				break
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		o.count(func(s *OutboundStats) { s.Failures++ })
		o.log.Warn("bridge: send failed, trying again", "events", len(msgs), "err", err)
		for _, m := range msgs {
			_ = m.InProgress()
		}
		if err := bo.Wait(ctx); err != nil {
			return err
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			o.log.Warn("bridge: acknowledge a forwarded change (it may be sent again)", "err", err)
		}
	}
	return nil
}

// events turns change events into Events, reading their documents; an
// error is a store error (tried again).
func (o *Outbound) events(ctx context.Context, msgs []jetstream.Msg) ([]Event, error) {
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		var ch store.Change
		if err := json.Unmarshal(m.Data(), &ch); err != nil {
			o.log.Warn("bridge: undecodable change event skipped", "subject", m.Subject(), "err", err)
			continue
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("metadata of a change event: %w", err)
		}
		e := Event{Key: EventKey(o.opts.Domain, md.Sequence.Stream), Op: ch.Op, Layer: ch.Layer,
			Collection: ch.Collection, ID: ch.ID, Fields: ch.Fields, Time: md.Timestamp.UTC()}
		if ch.Op == store.OpInsert || ch.Op == store.OpUpdate {
			doc, err := o.opts.Store.Get(ctx, ch.Layer, ch.Collection, ch.ID)
			if errors.Is(err, store.ErrNotFound) {
				o.count(func(s *OutboundStats) { s.Gone++ })
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read %s/%s/%s: %w", ch.Layer, ch.Collection, ch.ID, err)
			}
			e.Document = doc
		}
		if o.cfg.Converter != "" {
			if e.Document == nil {
				continue // nothing to convert: deletes are not sent through a converter
			}
			res, err := o.opts.Converters.Apply(ctx, o.cfg.Converter, e.Document)
			if err == nil {
				var b []byte
				if b, err = json.Marshal(res); err == nil {
					e.SetBody(b)
				}
			}
			if err != nil {
				o.count(func(s *OutboundStats) { s.Unconvertible++ })
				o.log.Warn("bridge: converter failed, change not sent", "converter", o.cfg.Converter, "id", ch.ID, "err", err)
				continue
			}
		}
		out = append(out, e)
	}
	return out, nil
}
