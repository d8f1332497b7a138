package weather

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPPublisher publishes weather messages to a RabbitMQ topic exchange
// (seed 3.2.1.2), persistent and confirmed by the broker. It connects on
// the first message and again after a failure; Close ends the connection.
type AMQPPublisher struct {
	cfg AMQPConfig
	log *slog.Logger

	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

// NewAMQPPublisher returns a publisher to cfg's exchange; it connects on
// the first Publish.
func NewAMQPPublisher(cfg AMQPConfig, log *slog.Logger) *AMQPPublisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AMQPPublisher{cfg: cfg, log: log}
}

// Publish sends body (JSON) to the exchange with routingKey and waits for
// the broker's confirmation.
func (p *AMQPPublisher) Publish(ctx context.Context, routingKey string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.connect(); err != nil {
		return err
	}
	conf, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.cfg.Exchange, routingKey, false, false, amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, Timestamp: time.Now(), Body: body,
	})
	if err == nil {
		var ok bool
		ok, err = conf.WaitContext(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("the broker refused the message (nack)")
		}
	}
	if err != nil {
		p.closeLocked()
		return fmt.Errorf("publish to AMQP exchange %q: %w", p.cfg.Exchange, err)
	}
	return nil
}

// connect opens the connection and a confirming channel, and declares the
// exchange, unless already done.
func (p *AMQPPublisher) connect() error {
	if p.ch != nil && !p.ch.IsClosed() && !p.conn.IsClosed() {
		return nil
	}
	p.closeLocked()
	conn, err := amqp.DialConfig(p.cfg.URL(), amqp.Config{Dial: amqp.DefaultDial(10 * time.Second), Properties: amqp.Table{"connection_name": "gridedge-hub weather"}})
	if err != nil {
		return fmt.Errorf("connect to AMQP %s:%d vhost %q: %w", p.cfg.Host, p.cfg.Port, p.cfg.VHost, err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		err = ch.ExchangeDeclare(p.cfg.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	}
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("open the AMQP channel and declare exchange %q: %w", p.cfg.Exchange, err)
	}
	p.conn, p.ch = conn, ch
	p.log.Info("weather: connected to AMQP", "host", p.cfg.Host, "exchange", p.cfg.Exchange)
	return nil
}

func (p *AMQPPublisher) closeLocked() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.conn, p.ch = nil, nil
}

// Close ends the connection, if any.
func (p *AMQPPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked()
	return nil
}
