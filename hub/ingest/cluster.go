package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Several hub replicas. Each edge's stream and its durable consumer
// (applier-<edge>) are replicated over the NATS cluster and shared by every
// hub: the consumer's state (what was delivered, what is acknowledged) lives
// in JetStream, not in a hub. Which hub applies an edge's batches is decided
// by JetStream's own Raft election: the hub whose embedded server leads the
// edge's consumer (Options.Leads); the others keep their consumer loop idle.
// So each batch is applied by one hub, the edges spread over the hubs as
// JetStream spreads consumer leaders, and a lost node's edges move to a
// survivor when their consumers elect a new leader; no lease of our own.
//
// Leadership alone does not keep an edge's batches in order: when a node is
// lost, the batches it had fetched but not acknowledged are redelivered only
// after AckWait, while the new leader would deliver the next ones at once;
// applied first, those would raise the high-water mark and make the earlier
// batches skipped replays (lost). And for a moment two hubs may both hold
// batches of one edge. So a hub applies a batch only when every earlier
// batch of its stream is acknowledged (the stream is a work queue, so the
// batch is the first one left in it) or is one this hub committed and
// acknowledged itself; other batches are released (NakWithDelay) to come
// back in order. A batch applied twice by two hubs at once is harmless: the
// store's per-document sequence guard and high-water mark make the second a
// replay.
//
// A lone hub needs the same order: a hub stopped or killed while a batch it
// fetched was not acknowledged leaves it pending until AckWait, while the
// restarted hub gets the batches after it at once (a hub stopped with
// SIGTERM between fetching a batch and acknowledging it lost 3 readings
// this way in TestHistoryEndToEnd). So every applier's consumer is a
// clusterConsumer; without Options.Leads it always leads.

const (
	// leaderPoll is how often an idle (not leading) hub checks again
	// whether it leads an edge's consumer.
	leaderPoll = 500 * time.Millisecond
	// releaseDelay is how long a batch released out of order waits before
	// it is delivered again.
	releaseDelay = 250 * time.Millisecond
)

// clusterConsumer is the consumer a hub replica uses: it fetches only while
// the hub leads the consumer, and passes on only batches whose predecessors
// are all applied.
type clusterConsumer struct {
	jetstream.Consumer
	a        *Applier
	ctx      context.Context
	stream   string
	consumer string

	mu       sync.Mutex
	lastAck  uint64 // stream sequence of the last batch this hub acknowledged while leading
	handed   uint64 // stream sequence of the last batch passed on, while none was released back (Nak) since
	released uint64 // batches released out of order (counted for tests and logs)
}

func (a *Applier) clusterConsumer(ctx context.Context, cons jetstream.Consumer, stream, consumer string) *clusterConsumer {
	return &clusterConsumer{Consumer: cons, a: a, ctx: ctx, stream: stream, consumer: consumer}
}

// leads reports whether this hub applies the consumer's batches now (a
// lone hub always does); when it does not, it forgets what it
// acknowledged, since another hub may have applied batches since.
func (c *clusterConsumer) leads() bool {
	if c.a.opts.Leads == nil || c.a.opts.Leads(c.stream, c.consumer) {
		return true
	}
	c.mu.Lock()
	c.lastAck, c.handed = 0, 0
	c.mu.Unlock()
	return false
}

// forget makes the next fetch check the order against the stream: a batch
// passed on was released back (Nak), so the ones after it must wait.
func (c *clusterConsumer) forget() {
	c.mu.Lock()
	c.handed = 0
	c.mu.Unlock()
}

// FetchNoWait fetches what is waiting, when this hub leads the consumer.
func (c *clusterConsumer) FetchNoWait(n int) (jetstream.MessageBatch, error) {
	if !c.leads() {
		return emptyBatch(), nil
	}
	b, err := c.Consumer.FetchNoWait(n)
	if err != nil {
		return nil, err
	}
	return c.inOrder(b), nil
}

// Fetch waits for batches, when this hub leads the consumer; otherwise it
// waits a while (leaderPoll) and returns nothing.
func (c *clusterConsumer) Fetch(n int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	if !c.leads() {
		sleep(c.ctx, leaderPoll)
		return emptyBatch(), nil
	}
	b, err := c.Consumer.Fetch(n, opts...)
	if err != nil {
		return nil, err
	}
	return c.inOrder(b), nil
}

// inOrder reads a fetched batch and keeps the run of messages that follows
// on from the last applied one, in stream order; it releases the others.
func (c *clusterConsumer) inOrder(b jetstream.MessageBatch) jetstream.MessageBatch {
	type seqMsg struct {
		seq uint64
		msg jetstream.Msg
	}
	var msgs []seqMsg
	for m := range b.Messages() {
		md, err := m.Metadata()
		if err != nil {
			// not a JetStream message: nothing to order it by
			c.a.log.Warn("ingest: fetched message without JetStream metadata; released", "stream", c.stream, "err", err)
			_ = m.NakWithDelay(releaseDelay)
			continue
		}
		msgs = append(msgs, seqMsg{md.Sequence.Stream, m})
	}
	out := &batch{msgs: make(chan jetstream.Msg, len(msgs)), err: b.Error()}
	defer close(out.msgs)
	if len(msgs) == 0 {
		return out
	}
	slices.SortFunc(msgs, func(x, y seqMsg) int { return cmpUint(x.seq, y.seq) })
	// the batches passed on before are applied (or released, which
	// forgets them) before these: a group fetched in two parts
	// (fetchGroup) follows on from its first part
	c.mu.Lock()
	last := max(c.lastAck, c.handed)
	c.mu.Unlock()
	next := last + 1
	if last == 0 || msgs[0].seq != next {
		first, err := c.firstSeq()
		if err != nil {
			c.a.log.Warn("ingest: cannot read the stream's first batch; releasing the fetched batches", "stream", c.stream, "err", err)
			first = 0
		}
		next = first
	}
	kept := 0
	for _, m := range msgs {
		if m.seq == next {
			out.msgs <- &ackedMsg{Msg: m.msg, c: c, seq: m.seq}
			next++
			kept++
			continue
		}
		_ = m.msg.NakWithDelay(releaseDelay)
	}
	if kept > 0 {
		c.mu.Lock()
		c.handed = next - 1
		c.mu.Unlock()
	}
	if released := len(msgs) - kept; released > 0 {
		c.mu.Lock()
		c.released += uint64(released)
		c.mu.Unlock()
		c.a.log.Debug("ingest: released batches fetched ahead of an unacknowledged one", "stream", c.stream,
			"released", released, "first_fetched", msgs[0].seq)
	}
	return out
}

// firstSeq is the stream sequence of the oldest batch left in the stream.
func (c *clusterConsumer) firstSeq() (uint64, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	s, err := c.a.js.Stream(ctx, c.stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", c.stream, err)
	}
	return s.CachedInfo().State.FirstSeq, nil
}

func cmpUint(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// ackedMsg records, when acknowledged, that its batch is applied (or
// dead-lettered), so that the next one may follow without asking the
// stream.
type ackedMsg struct {
	jetstream.Msg
	c   *clusterConsumer
	seq uint64
}

// Nak releases the batch and makes the next fetch wait for it.
func (m *ackedMsg) Nak() error {
	m.c.forget()
	return m.Msg.Nak()
}

// NakWithDelay releases the batch and makes the next fetch wait for it.
func (m *ackedMsg) NakWithDelay(d time.Duration) error {
	m.c.forget()
	return m.Msg.NakWithDelay(d)
}

func (m *ackedMsg) Ack() error {
	if err := m.Msg.Ack(); err != nil {
		return err
	}
	m.c.mu.Lock()
	m.c.lastAck = max(m.c.lastAck, m.seq)
	m.c.mu.Unlock()
	return nil
}

// batch is a MessageBatch of messages already read.
type batch struct {
	msgs chan jetstream.Msg
	err  error
}

func (b *batch) Messages() <-chan jetstream.Msg { return b.msgs }
func (b *batch) Error() error                   { return b.err }

func emptyBatch() jetstream.MessageBatch {
	b := &batch{msgs: make(chan jetstream.Msg)}
	close(b.msgs)
	return b
}

// errNoLeads is returned by New when Options.Replicas asks for a
// replicated stream without Options.Leads.
var errNoLeads = errors.New("ingest: replicated streams (Options.Replicas > 1) need Options.Leads, to apply each batch on one hub")

var (
	_ jetstream.Consumer     = (*clusterConsumer)(nil)
	_ jetstream.MessageBatch = (*batch)(nil)
	_ jetstream.Msg          = (*ackedMsg)(nil)
)
