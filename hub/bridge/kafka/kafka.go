// Package kafka bridges the hub and Kafka (seed 000, 3.3.7) with
// github.com/twmb/franz-go: a Producer is the Sink of outbound bridges
// (idempotent production, acknowledged by all in-sync replicas), a
// Consumer reads an inbound bridge's topic in a consumer group and commits
// offsets only after the store write.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gridedge/gridedge/hub/bridge"
)

// clientOpts are the options every client of bridge cfg gets: the seed
// brokers and SASL of its URL.
func clientOpts(cfg bridge.Config) ([]kgo.Opt, error) {
	brokers, sasl, err := bridge.KafkaURL(bridge.ResolveEnv(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", cfg.Name, err)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID("gridedge-" + cfg.Name)}
	switch sasl.Mechanism {
	case "":
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: sasl.User, Pass: sasl.Password}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: sasl.User, Pass: sasl.Password}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: sasl.User, Pass: sasl.Password}.AsSha512Mechanism()))
	}
	return opts, nil
}

// Producer is the Sink of an outbound Kafka bridge: one record per event
// on the bridge's topic, keyed by the event's routing key
// (<layer>.<collection>.<id>, so a document's events stay in one
// partition, in order), with the header Idempotency-Key. franz-go's
// idempotent producer keeps retries within a session free of duplicates;
// a batch sent again after a failure or a restart may repeat records,
// which receivers drop by the key.
type Producer struct {
	cl *kgo.Client
}

var _ bridge.Sink = (*Producer)(nil)

// NewProducer makes the Producer of bridge cfg; extra options follow the
// bridge's (tests).
func NewProducer(cfg bridge.Config, extra ...kgo.Opt) (*Producer, error) {
	opts, err := clientOpts(cfg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(cfg.Topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(4*cfg.Batch+1), kgo.ProducerLinger(0))
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: kafka client: %w", cfg.Name, err)
	}
	return &Producer{cl: cl}, nil
}

// Send produces the events and waits until every record is acknowledged.
func (p *Producer) Send(ctx context.Context, events []bridge.Event) error {
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		b, err := events[i].Body()
		if err != nil {
			return fmt.Errorf("encode event %s: %w", events[i].Key, err)
		}
		recs[i] = &kgo.Record{Key: []byte(events[i].RoutingKey()), Value: b,
			Headers: []kgo.RecordHeader{{Key: bridge.HeaderKey, Value: []byte(events[i].Key)}}}
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d records: %w", len(recs), err)
	}
	return nil
}

// Close flushes nothing (Send waited) and closes the client.
func (p *Producer) Close() error {
	p.cl.Close()
	return nil
}

// Consumer reads an inbound bridge's topic as a member of its consumer
// group (a new group starts at the oldest record) and stores the records
// through an Inbound, committing their offsets only after the write: a
// broker or hub restart makes the group read again from the last commit,
// so records are stored at least once (and upserted by _id, so a repeat
// changes nothing). Rebalances wait while a polled batch is being stored.
type Consumer struct {
	cfg bridge.Config
	cl  *kgo.Client
	in  *bridge.Inbound
	log *slog.Logger
}

// NewConsumer makes the Consumer of bridge cfg; extra options follow the
// bridge's (tests).
func NewConsumer(cfg bridge.Config, in *bridge.Inbound, log *slog.Logger, extra ...kgo.Opt) (*Consumer, error) {
	opts, err := clientOpts(cfg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.ConsumerGroup(cfg.Group), kgo.ConsumeTopics(cfg.Topic), kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: kafka client: %w", cfg.Name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg, cl: cl, in: in, log: log.With("bridge", cfg.Name)}, nil
}

// Run consumes until ctx is done, then leaves the group and closes the
// client.
func (c *Consumer) Run(ctx context.Context) error {
	defer func() {
		c.cl.AllowRebalance() // a client blocking rebalances cannot leave its group
		c.cl.Close()
	}()
	c.log.Info("inbound kafka bridge started", "topic", c.cfg.Topic, "group", c.cfg.Group)
	bo := bridge.Backoff{Max: c.cfg.MaxBackoff.Std()}
	for {
		fs := c.cl.PollRecords(ctx, c.cfg.Batch)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(fs.Err0(), kgo.ErrClientClosed) {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			c.log.Warn("bridge: kafka fetch", "topic", topic, "partition", p, "err", err)
		})
		recs := fs.Records()
		if len(recs) == 0 {
			c.cl.AllowRebalance()
			continue
		}
		if err := c.store(ctx, recs, &bo); err != nil {
			return nil // stopping: uncommitted records are read again
		}
		c.cl.AllowRebalance()
	}
}

// store writes recs until it succeeds, then commits their offsets; it
// returns an error only when ctx ends first.
func (c *Consumer) store(ctx context.Context, recs []*kgo.Record, bo *bridge.Backoff) error {
	bodies := make([][]byte, len(recs))
	for i, r := range recs {
		bodies[i] = r.Value
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.Std())
		err := c.in.Store(wctx, bodies, func(i int, err error) {
			c.log.Warn("bridge: record dropped", "partition", recs[i].Partition, "offset", recs[i].Offset, "err", err)
		})
		cancel()
		if err == nil {
			bo.Reset()
			break
		}
		c.log.Warn("bridge: store records, trying again", "records", len(recs), "err", err)
		if err := bo.Wait(ctx); err != nil {
			return err
		}
	}
	for try := 0; ; try++ {
		err := c.cl.CommitRecords(ctx, recs...)
		if err == nil {
			bo.Reset()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if try == 5 {
			// stored already: the group reads them again after a restart
			c.log.Warn("bridge: commit offsets failed, records will be stored again", "err", err)
			return nil
		}
		c.log.Warn("bridge: commit offsets, trying again", "err", err)
		if err := bo.Wait(ctx); err != nil {
			return err
		}
	}
}
