package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/edge/metrics"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

// ForwarderOptions configure a Forwarder. Zero values take the defaults.
type ForwarderOptions struct {
	// Edge is the edge id.
	Edge string
	// Domain is the deployment's subject domain.
	Domain string
	// MaxBatch caps the updates per batch (default 500).
	MaxBatch int
	// MaxBatchBytes caps the encoded updates per batch (default 512 KiB).
	MaxBatchBytes int
	// AckTimeout is how long to wait for the hub's acknowledgement (default 5s).
	AckTimeout time.Duration
	// MinBackoff and MaxBackoff bound the retry delay while the hub is
	// unreachable (defaults 200ms and 30s); a random jitter of up to half the
	// delay is added.
	MinBackoff, MaxBackoff time.Duration
	// MaxBytesPerSecond caps the bandwidth used for batches (0: no cap), for
	// metered links. Batches are sent whole; the cap is kept on average by
	// waiting after each batch.
	MaxBytesPerSecond int
	// RealignInterval is how often the forwarder asks the hub for its
	// high-water mark of this edge (default 1m) and, when it is above every
	// sequence number the edge has given out (later batches would be skipped
	// as replays), continues the buffer's sequence above it.
	RealignInterval time.Duration
	// Linger is how long a batch that is not full may wait for more
	// updates before it is sent (0: send as soon as anything is buffered).
	// A full batch (MaxBatch updates or MaxBatchBytes) goes at once, so a
	// backlog drains at full speed; under a steady trickle of readings a
	// short linger turns many tiny batches into a few larger ones: fewer
	// round trips, acknowledgements and hub commits, for at most Linger of
	// extra latency.
	Linger time.Duration
	// LinkUp, when set, reports whether the link to the hub is up; a
	// forwarder backing off retries at once when the link comes back.
	LinkUp func() bool
	// Logger receives events.
	Logger *slog.Logger
}

// ForwarderStats count what the forwarder did.
type ForwarderStats struct {
	// Sent counts updates the hub acknowledged.
	Sent uint64 `json:"sent"`
	// Batches counts batches the hub acknowledged.
	Batches uint64 `json:"batches"`
	// Duplicates counts batches the hub reported as already received.
	Duplicates uint64 `json:"duplicates"`
	// Failures counts failed publish attempts.
	Failures uint64 `json:"failures"`
	// Unconfirmed counts "duplicate" answers the hub's high-water mark did
	// not confirm: the batch was kept and sent again later (the same message
	// id from someone else, or a batch still waiting to be applied).
	Unconfirmed uint64 `json:"unconfirmed_duplicates"`
	// Realigned counts times the buffer's sequence was moved above the hub's
	// high-water mark while running.
	Realigned uint64 `json:"realigned"`
	// LastError is the latest failure ("" after a success).
	LastError string `json:"last_error,omitempty"`
	// AckLatency is the distribution of the time from publishing a batch
	// to the hub's acknowledgement, failures included (for the agent's
	// metrics, not the heartbeat).
	AckLatency metrics.HistogramSnapshot `json:"-"`
}

// Forwarder drains a buffer into the hub's INGEST stream.
type Forwarder struct {
	nc   *nats.Conn
	buf  *buffer.Buffer
	opts ForwarderOptions
	log  *slog.Logger

	sent, batches, dups, failures, unconfirmed, realigned atomic.Uint64
	lastErr                                               atomic.Value // string
	ackLatency                                            *metrics.Hist

	aligned     bool      // the buffer's sequence was checked against the hub's high-water mark
	lastAligned time.Time // when it was last checked
}

// NewForwarder returns a forwarder publishing through nc.
func NewForwarder(nc *nats.Conn, buf *buffer.Buffer, o ForwarderOptions) *Forwarder {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 500
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 512 << 10
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.RealignInterval <= 0 {
		o.RealignInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	f := &Forwarder{nc: nc, buf: buf, opts: o, log: o.Logger, ackLatency: metrics.NewLatencyHist()}
	f.lastErr.Store("")
	return f
}

// Stats returns the counters.
func (f *Forwarder) Stats() ForwarderStats {
	return ForwarderStats{Sent: f.sent.Load(), Batches: f.batches.Load(), Duplicates: f.dups.Load(),
		Failures: f.failures.Load(), Unconfirmed: f.unconfirmed.Load(), Realigned: f.realigned.Load(),
		LastError: f.lastErr.Load().(string), AckLatency: f.ackLatency.Snapshot()}
}

// Run forwards until ctx is done.
func (f *Forwarder) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	var lingering bool // the last Peek found a batch that was not full and Linger has passed since
	for {
		if backoff > 0 {
			if !f.wait(ctx, backoff+rand.N(backoff/2+1)) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		entries, err := f.buf.Peek(f.opts.MaxBatch, f.opts.MaxBatchBytes)
		if err != nil {
			f.fail(err)
			backoff = f.next(backoff)
			continue
		}
		if f.aligned && time.Since(f.lastAligned) >= f.opts.RealignInterval {
			if err := f.align(ctx); err != nil {
				f.fail(err)
				backoff = f.next(backoff)
				continue
			}
			continue // the numbers may have moved: read again
		}
		if len(entries) == 0 {
			backoff, lingering = 0, false
			select {
			case <-ctx.Done():
				return nil
			case <-f.buf.Notify():
			case <-idle.C:
			}
			continue
		}
		if !lingering && f.opts.Linger > 0 && !f.full(entries) {
			// wait for more updates, then read again
			if !f.linger(ctx, entries) {
				return nil
			}
			lingering = true
			continue
		}
		lingering = false
		if err := f.send(ctx, entries); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.fail(err)
			backoff = f.next(backoff)
			continue
		}
		if backoff > 0 {
			f.log.Info("hub reachable again; draining the backlog")
		}
		backoff = 0
	}
}

// full reports whether a batch that starts with entries would be full now:
// MaxBatch updates, or close enough to MaxBatchBytes that an update of
// their average size would not fit. Updates appended since entries were
// read count too (by sequence number, at the average size), so this costs
// no read of the buffer.
func (f *Forwarder) full(entries []buffer.Entry) bool {
	n := uint64(len(entries))
	if next := f.buf.NextSeq(); next > entries[0].Seq {
		n = max(n, next-entries[0].Seq)
	}
	if n >= uint64(f.opts.MaxBatch) {
		return true
	}
	size := 0
	for i := range entries {
		size += len(entries[i].Data)
	}
	avg := uint64(size / len(entries))
	return (n+1)*avg > uint64(f.opts.MaxBatchBytes)
}

// linger waits up to Linger for the batch that starts with entries to
// fill; it returns false when ctx ends first.
func (f *Forwarder) linger(ctx context.Context, entries []buffer.Entry) bool {
	t := time.NewTimer(f.opts.Linger)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-f.buf.Notify():
			if f.full(entries) {
				return true
			}
		}
	}
}

// wait sleeps for d, or until the hub link comes back up if it is down now;
// it returns false when ctx ends.
func (f *Forwarder) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var poll <-chan time.Time
	if f.opts.LinkUp != nil && !f.opts.LinkUp() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		poll = tick.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-poll:
			if f.opts.LinkUp() {
				return true
			}
		}
	}
}

func (f *Forwarder) next(b time.Duration) time.Duration {
	if b == 0 {
		return f.opts.MinBackoff
	}
	return min(2*b, f.opts.MaxBackoff)
}

func (f *Forwarder) fail(err error) {
	n := f.failures.Add(1)
	f.lastErr.Store(err.Error())
	// log the first failure of an outage, then every 10th
	if n == 1 || n%10 == 0 || f.sent.Load() == 0 {
		f.log.Warn("forwarding to the hub failed; keeping the backlog and retrying", "err", err, "failures", n)
	}
}

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// EncodeBatch writes the binary batch (shared/wire) of consecutive buffer
// entries: their bytes as buffered, with the dictionary strings they use
// (looked up in strs, the buffer's Strings), without decoding them.
func EncodeBatch(edge string, entries []buffer.Entry, strs wire.Strings) ([]byte, error) {
	data := make([][]byte, len(entries))
	size := 64 + len(edge)
	for i := range entries {
		data[i] = entries[i].Data
		size += len(entries[i].Data) + 3
	}
	return wire.AppendBatch(make([]byte, 0, size+size/8), edge, entries[0].Seq, data, strs)
}

// hwm asks the hub for its high-water mark of this edge: the highest
// sequence number it applied for it.
func (f *Forwarder) hwm(ctx context.Context) (uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, f.opts.AckTimeout)
	defer cancel()
	resp, err := f.nc.RequestWithContext(rctx, subject.EdgeControl(f.opts.Domain, f.opts.Edge, subject.ActionHWM), nil)
	if err != nil {
		return 0, fmt.Errorf("ask the hub for its high-water mark: %w", err)
	}
	var r struct {
		Edge  string `json:"edge"`
		HWM   uint64 `json:"hwm"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil || r.Error != "" || r.Edge != f.opts.Edge {
		return 0, fmt.Errorf("ask the hub for its high-water mark: unexpected answer %q", resp.Data)
	}
	return r.HWM, nil
}

// align asks the hub for its high-water mark of this edge and makes the
// buffer's sequence continue above it (see buffer.Rebase): once per process
// before the first batch, then every RealignInterval, since batches
// numbered at or below the mark would be acknowledged and skipped.
func (f *Forwarder) align(ctx context.Context) error {
	hwm, err := f.hwm(ctx)
	if err != nil {
		return err
	}
	shift, err := f.buf.Rebase(hwm)
	if err != nil {
		return err
	}
	if shift > 0 && f.aligned {
		f.realigned.Add(1)
		f.log.Warn("the hub's high-water mark of this edge is above the buffer's sequence: continuing above it, or later batches would be skipped as replays",
			"hwm", hwm, "shift", shift)
	}
	f.aligned = true
	f.lastAligned = time.Now()
	return nil
}

func (f *Forwarder) send(ctx context.Context, entries []buffer.Entry) error {
	if !f.aligned {
		if err := f.align(ctx); err != nil {
			return err
		}
		// the numbers may have moved: read the batch again
		var err error
		if entries, err = f.buf.Peek(len(entries), f.opts.MaxBatchBytes); err != nil || len(entries) == 0 {
			return err
		}
	}
	// the buffer's sequence is contiguous, but drop-oldest may have removed
	// the head while we read: only send a contiguous run
	for i := 1; i < len(entries); i++ {
		if entries[i].Seq != entries[i-1].Seq+1 {
			entries = entries[:i]
			break
		}
	}
	b := model.Batch{Edge: f.opts.Edge, SeqFirst: entries[0].Seq, SeqLast: entries[len(entries)-1].Seq}
	msg := nats.NewMsg(subject.Ingest(f.opts.Domain, f.opts.Edge))
	var err error
	if msg.Data, err = EncodeBatch(f.opts.Edge, entries, f.buf.Strings()); err != nil {
		// a damaged buffer file: stop here rather than skip updates
		return fmt.Errorf("build batch %s from the buffer: %w", b.MsgID(), err)
	}
	msg.Header.Set(nats.MsgIdHdr, b.MsgID())
	rctx, cancel := context.WithTimeout(ctx, f.opts.AckTimeout)
	defer cancel()
	sent := time.Now()
	resp, err := f.nc.RequestMsgWithContext(rctx, msg)
	f.ackLatency.ObserveDuration(time.Since(sent))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("publish batch %s: hub not reachable (no leaf link or INGEST stream): %w", b.MsgID(), err)
		}
		return fmt.Errorf("publish batch %s: %w", b.MsgID(), err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("publish batch %s: unreadable acknowledgement %q: %w", b.MsgID(), resp.Data, err)
	}
	if ack.Error != nil {
		return fmt.Errorf("publish batch %s: hub refused it: %s (code %d)", b.MsgID(), ack.Error.Description, ack.Error.ErrCode)
	}
	if ack.Stream == "" {
		return fmt.Errorf("publish batch %s: answer %q is not a JetStream acknowledgement", b.MsgID(), resp.Data)
	}
	if ack.Duplicate {
		// JetStream says it has a message with this id; only the hub's
		// high-water mark of this edge says the batch was applied (the
		// id may have been sent by someone else, or the batch may be
		// still waiting to be applied): keep it until then
		hwm, err := f.hwm(ctx)
		if err != nil {
			return fmt.Errorf("publish batch %s: answered as a duplicate, not confirmed: %w", b.MsgID(), err)
		}
		if hwm < b.SeqLast {
			f.unconfirmed.Add(1)
			return fmt.Errorf("publish batch %s: answered as a duplicate, but the hub's high-water mark of this edge is %d: keeping the batch", b.MsgID(), hwm)
		}
	}
	if err := f.buf.AckBatch(b.SeqFirst, b.SeqLast); err != nil {
		// the hub has it; a resend is de-duplicated, so this only costs traffic
		return fmt.Errorf("batch %s acknowledged but not deleted locally: %w", b.MsgID(), err)
	}
	if f.opts.MaxBytesPerSecond > 0 {
		// pace: this batch may not be followed by another before its share of the budget
		d := time.Duration(float64(len(msg.Data)) / float64(f.opts.MaxBytesPerSecond) * float64(time.Second))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	f.sent.Add(uint64(len(entries)))
	f.batches.Add(1)
	if ack.Duplicate {
		f.dups.Add(1)
	}
	f.lastErr.Store("")
	return nil
}
