// Package amqp bridges the hub and RabbitMQ (seed 000, 3.3.4) over AMQP
// 0-9-1 with github.com/rabbitmq/amqp091-go: a Publisher is the Sink of
// outbound bridges (persistent messages to a durable topic exchange, with
// publisher confirms), a Consumer stores an inbound bridge's queue and
// acknowledges each message only after the store write. Both reconnect
// after a lost connection.
package amqp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/gridedge/gridedge/hub/bridge"
)

// Publisher is the Sink of an outbound AMQP bridge: each event becomes a
// persistent message (content type application/json, message-id the
// event's Key, type the operation) to the bridge's topic exchange with
// routing key <layer>.<collection>.<id>. A batch counts as sent when the
// broker confirmed every message (publisher confirms: the message is on
// disk in every durable queue it was routed to). The exchange is declared
// durable; queues and bindings are the receivers'. A message no queue is
// bound for is dropped by the broker, as AMQP exchanges do.
type Publisher struct {
	url, exchange string

	mu   sync.Mutex // guards conn and ch; held by Send
	conn *amqp091.Connection
	ch   *amqp091.Channel
}

var _ bridge.Sink = (*Publisher)(nil)

// NewPublisher makes the Publisher of bridge cfg; it connects at the first
// Send.
func NewPublisher(cfg bridge.Config) *Publisher {
	return &Publisher{url: bridge.ResolveEnv(cfg.URL), exchange: cfg.Exchange}
}

// channel returns an open confirming channel, connecting when needed; the
// caller holds mu.
func (p *Publisher) channel() (*amqp091.Channel, error) {
	if p.ch != nil && !p.ch.IsClosed() && !p.conn.IsClosed() {
		return p.ch, nil
	}
	p.reset()
	conn, err := amqp091.Dial(p.url)
	if err != nil {
		return nil, fmt.Errorf("connect to the amqp broker: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		err = ch.ExchangeDeclare(p.exchange, amqp091.ExchangeTopic, true, false, false, false, nil)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open a confirming channel on exchange %q: %w", p.exchange, err)
	}
	p.conn, p.ch = conn, ch
	return ch, nil
}

// reset drops the connection; the caller holds mu.
func (p *Publisher) reset() {
	if p.conn != nil {
		p.conn.Close()
	}
	p.conn, p.ch = nil, nil
}

// Send publishes the events and waits for the broker's confirms; any
// error or negative confirm fails the batch (and drops the connection, so
// the next Send starts on a fresh one).
func (p *Publisher) Send(ctx context.Context, events []bridge.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, err := p.channel()
	if err != nil {
		return err
	}
	dcs := make([]*amqp091.DeferredConfirmation, 0, len(events))
	for i := range events {
		e := &events[i]
		body, err := e.Body()
		if err != nil {
			return fmt.Errorf("encode event %s: %w", e.Key, err)
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, e.RoutingKey(), false, false, amqp091.Publishing{
			ContentType: "application/json", DeliveryMode: amqp091.Persistent, MessageId: e.Key,
			Timestamp: e.Time, Type: e.Op, Body: body,
		})
		if err != nil {
			p.reset()
			return fmt.Errorf("publish event %s: %w", e.Key, err)
		}
		dcs = append(dcs, dc)
	}
	for i, dc := range dcs {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			p.reset()
			return fmt.Errorf("wait for the confirm of event %s: %w", events[i].Key, err)
		}
		if !ok {
			p.reset()
			return fmt.Errorf("the broker did not confirm event %s (negative confirm or lost connection)", events[i].Key)
		}
	}
	return nil
}

// Close closes the connection.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset()
	return nil
}

// Consumer stores the messages of an inbound bridge's durable queue
// (declared when missing, bound to the bridge's exchange when it has one)
// through an Inbound. Up to Batch unacknowledged messages are fetched
// (prefetch), written together and then acknowledged; a message that can
// never be stored is rejected without requeue (dead-lettered when the
// queue has a dead-letter exchange). A lost connection is dialled again
// with backoff; the broker redelivers what was not acknowledged.
type Consumer struct {
	cfg bridge.Config
	url string
	in  *bridge.Inbound
	log *slog.Logger
}

// NewConsumer makes the Consumer of bridge cfg.
func NewConsumer(cfg bridge.Config, in *bridge.Inbound, log *slog.Logger) *Consumer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg, url: bridge.ResolveEnv(cfg.URL), in: in, log: log.With("bridge", cfg.Name)}
}

// gatherWait is how long a batch waits for more deliveries.
const gatherWait = 2 * time.Millisecond

// errLost is a session's end by a lost connection.
var errLost = errors.New("amqp connection lost")

// Run consumes until ctx is done, reconnecting with backoff.
func (c *Consumer) Run(ctx context.Context) error {
	bo := bridge.Backoff{Max: c.cfg.MaxBackoff.Std()}
	for {
		err := c.session(ctx, &bo)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("bridge: amqp consumer reconnects", "err", err)
		if bo.Wait(ctx) != nil {
			return nil
		}
	}
}

// session consumes on one connection until it is lost or ctx is done.
func (c *Consumer) session(ctx context.Context, bo *bridge.Backoff) error {
	conn, err := amqp091.Dial(c.url)
	if err != nil {
		return fmt.Errorf("connect to the amqp broker: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open a channel: %w", err)
	}
	if err := ch.Qos(c.cfg.Batch, 0, false); err != nil {
		return fmt.Errorf("set the prefetch count: %w", err)
	}
	if _, err := ch.QueueDeclare(c.cfg.Queue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %q: %w", c.cfg.Queue, err)
	}
	if c.cfg.Exchange != "" {
		if err := ch.ExchangeDeclare(c.cfg.Exchange, amqp091.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %q: %w", c.cfg.Exchange, err)
		}
		if err := ch.QueueBind(c.cfg.Queue, c.cfg.BindingKey, c.cfg.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %q to %q with %q: %w", c.cfg.Queue, c.cfg.Exchange, c.cfg.BindingKey, err)
		}
	}
	deliveries, err := ch.Consume(c.cfg.Queue, "gridedge-"+c.cfg.Name, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume queue %q: %w", c.cfg.Queue, err)
	}
	c.log.Info("inbound amqp bridge consuming", "queue", c.cfg.Queue)
	bo.Reset()
	batch := make([]amqp091.Delivery, 0, c.cfg.Batch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-deliveries:
			if !ok {
				return errLost
			}
			batch = append(batch, d)
		}
		// deliveries arrive one by one: wait a little for the rest of a
		// burst, so that a burst is one store write and one acknowledgement
		linger := time.NewTimer(gatherWait)
	gather:
		for len(batch) < c.cfg.Batch {
			select {
			case d, ok := <-deliveries:
				if !ok {
					break gather
				}
				batch = append(batch, d)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		if err := c.store(ctx, batch, bo); err != nil {
			return err
		}
	}
}

// store writes a batch until it succeeds and acknowledges it.
func (c *Consumer) store(ctx context.Context, batch []amqp091.Delivery, bo *bridge.Backoff) error {
	bodies := make([][]byte, len(batch))
	for i, d := range batch {
		bodies[i] = d.Body
	}
	var bad map[int]bool
	for {
		bad = map[int]bool{}
		wctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.Std())
		err := c.in.Store(wctx, bodies, func(i int, err error) { bad[i] = true })
		cancel()
		if err == nil {
			break
		}
		c.log.Warn("bridge: store messages, trying again", "messages", len(batch), "err", err)
		if err := bo.Wait(ctx); err != nil {
			return err
		}
	}
	if len(bad) == 0 { // one acknowledgement for the whole batch
		if err := batch[len(batch)-1].Ack(true); err != nil {
			return fmt.Errorf("acknowledge: %w: %w", errLost, err)
		}
		return nil
	}
	for i, d := range batch {
		var err error
		if bad[i] {
			err = d.Reject(false)
		} else {
			err = d.Ack(false)
		}
		if err != nil {
			// stored already: the broker redelivers the rest, upserted again
			return fmt.Errorf("acknowledge: %w: %w", errLost, err)
		}
	}
	return nil
}
