// Package ingest applies edge batches to the store. Batches arrive on
// JetStream: each configured edge has its own stream INGEST_<edge> (subject
// <domain>.ingest.<edge>), so that the de-duplication by Nats-Msg-Id within
// the stream's duplicate window is scoped to the edge that published: an
// edge cannot make another edge's batch look like a duplicate by sending its
// message id first (JetStream de-duplicates across a whole stream, and the
// id is chosen by the client). Without a list of edges, one stream INGEST
// takes every edge's batches (for in-process publishers that are trusted
// alike). A durable consumer per stream applies the batches in order, and the
// store's per-edge high-water mark makes a replayed batch change nothing even
// after the window has passed. A batch that cannot be parsed or applied,
// that starts implausibly far above the edge's high-water mark (a sequence
// jump, quarantined), or that writes outside the edge's allow-list goes to
// the DEADLETTER stream with the reason and is acknowledged, so it never
// blocks the stream. Every committed write is
// reported to Options.Changes, the hook through which REST writes are
// announced too (the hub publishes on <domain>.storage.changed.<layer>.<collection>).
//
// Batches come in two formats, told apart by their first byte: the binary
// batch of shared/wire (magic 0xC7 'G' 'W'), which agents send since the
// buffer stores that encoding, and the JSON batch {edge, seq_first,
// seq_last, updates} ('{'), which older agents send; both are applied alike,
// so agents can be upgraded after the hub, one at a time.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

// Stream and consumer names.
const (
	// StreamName is the stream of every edge's batches when no edges are
	// listed (and the stream of older hubs, drained and removed at start).
	StreamName = "INGEST"
	// EdgeStreamPrefix starts the name of an edge's own stream: INGEST_<edge>.
	EdgeStreamPrefix = "INGEST_"
	DeadLetterName   = "DEADLETTER"
	ConsumerName     = "applier"
)

// DefaultMaxSeqJump is Options.MaxSeqJump's default: 2^32 sequence numbers,
// about 3 days of the 500 devices × 30 tags per second of the scale test,
// years of a typical substation, and far more than an agent's buffer holds
// (10 million updates by default), so that only readings the edge dropped can
// make an honest gap that large.
const DefaultMaxSeqJump = 1 << 32

// EdgeStream is the name of edge's own stream.
func EdgeStream(edge string) string { return EdgeStreamPrefix + edge }

// LayerGrant allows an edge to write to one layer: to the listed
// collections, or to every collection of the layer when none are listed.
type LayerGrant struct {
	// Layer is the layer's id.
	Layer string `json:"layer"`
	// Collections are the collections the edge may write (empty: all).
	Collections []string `json:"collections,omitempty"`
}

// Headers set on dead letters.
const (
	HeaderReason = "GridEdge-Reason"
	HeaderEdge   = "GridEdge-Edge"
)

// Options configure the applier.
type Options struct {
	// Domain is the deployment's subject domain.
	Domain string
	// DuplicateWindow is INGEST's de-duplication window (default 10m). It must
	// cover how long an edge may retry one batch; beyond it the store's
	// high-water mark still prevents double application.
	DuplicateWindow time.Duration
	// MaxBytes bounds the INGEST stream (default 1 GiB); when full, edges keep
	// their backlog in their own buffers.
	MaxBytes int64
	// CreateMissing creates layers and collections named by batches.
	CreateMissing bool
	// MaxSeqJump is the largest gap above an edge's high-water mark that a
	// batch may start at (default DefaultMaxSeqJump); a batch beyond it is
	// quarantined in the dead-letter stream, because applying it would make
	// every later real batch of the edge a skipped replay.
	MaxSeqJump uint64
	// Allowed lists, per edge, the layers and collections the edge may
	// write; a batch writing elsewhere goes to the dead-letter stream. An
	// edge without an entry may write to every layer that is not reserved.
	Allowed map[string][]LayerGrant
	// Edges lists the edges whose batches are applied, each by its own
	// durable consumer, so that edges proceed independently while each
	// edge's batches apply in order. Empty: one consumer for every edge.
	Edges []string
	// ReservedLayer reports layers edges may not write to (the hub's own
	// "system" layer with users and tokens, names of API paths); a batch
	// naming one goes to the dead-letter stream.
	ReservedLayer func(layer string) bool
	// Changes, when set, receives the document changes of every committed
	// batch (store.ApplyResult.Changes), after the commit; the hub passes
	// the same function that announces REST writes (see store.WithChanges).
	Changes func(store.Change)
	// Replicas is the replica count of the edges' streams, their
	// consumers and the dead-letter stream (default 1; 3 in a cluster of
	// three hub nodes, so that one node can be lost). Above 1 Leads is
	// required (cluster.go).
	Replicas int
	// Leads, when set, tells whether this hub's NATS server leads a
	// stream's consumer: only then does the hub apply its batches, so that
	// hub replicas sharing the consumer apply each batch once, in order
	// (cluster.go). Unset: this hub applies every batch.
	Leads func(stream, consumer string) bool
	// Placement, when set, names the NATS cluster an edge's stream (and
	// its consumer) is placed in: in a supercluster, the cluster the edge
	// attaches to (docs/scaling.md). Unset or "": the cluster of the hub
	// that creates the stream first.
	Placement func(edge string) string
	// AfterApply, when set, is called after a batch is committed to the
	// store and before it is acknowledged: the failpoint that tests use to
	// kill the hub between apply and ack.
	AfterApply func(applied uint64)
	// Logger receives events.
	Logger *slog.Logger
}

// Stats count what the applier did.
type Stats struct {
	// Batches applied (including fully skipped replays).
	Batches uint64 `json:"batches"`
	// Updates written.
	Updates uint64 `json:"updates"`
	// Skipped updates (replays at or below the high-water mark).
	Skipped uint64 `json:"skipped"`
	// Gaps counts sequence numbers missing between batches of an edge.
	Gaps uint64 `json:"gaps"`
	// DeadLetters counts batches moved to the dead-letter stream.
	DeadLetters uint64 `json:"dead_letters"`
	// Quarantined counts dead-lettered batches that jumped implausibly far
	// above their edge's high-water mark.
	Quarantined uint64 `json:"quarantined"`
	// Refused counts dead-lettered batches that wrote outside their edge's
	// allow-list.
	Refused uint64 `json:"refused"`
	// Retries counts applies that failed without committing anything (the
	// store, or the history that a batch's readings are recorded in
	// before the commit, unavailable) and were tried again.
	Retries uint64 `json:"retries"`
}

// EdgeStats count what was applied for one edge.
type EdgeStats struct {
	// Batches applied.
	Batches uint64 `json:"batches"`
	// Applied updates written.
	Applied uint64 `json:"applied"`
	// Skipped replayed updates.
	Skipped uint64 `json:"skipped"`
	// Missing sequence numbers (dropped at the edge).
	Missing uint64 `json:"missing"`
	// DeadLetters counts batches moved to the dead-letter stream.
	DeadLetters uint64 `json:"dead_letters"`
	// Quarantined counts dead-lettered sequence jumps.
	Quarantined uint64 `json:"quarantined"`
	// Refused counts dead-lettered batches outside the edge's allow-list.
	Refused uint64 `json:"refused"`
	// Retries counts applies of the edge's batches that failed without
	// committing (store or history unavailable) and were tried again.
	Retries uint64 `json:"retries"`
	// HistoryRefused counts measurement samples of the edge's batches that
	// the history refused (older than history.outOfOrderWindow); the
	// documents were updated. The hub fills it from its history recorder.
	HistoryRefused uint64 `json:"history_refused"`
	// LastSeq is the highest sequence number applied.
	LastSeq uint64 `json:"last_seq"`
	// LastApplied is when the last batch was applied.
	LastApplied time.Time `json:"last_applied"`
}

// Applier consumes INGEST.
type Applier struct {
	js   jetstream.JetStream
	st   store.Store
	opts Options
	log  *slog.Logger

	batches, updates, skipped, gaps, dead, quarantined, refused, retries atomic.Uint64

	mu      sync.Mutex
	perEdge map[string]*EdgeStats
	hwm     map[string]uint64 // per edge, loaded from the store on its first batch
}

// New creates (or updates) the streams and the durable consumer.
func New(ctx context.Context, nc *nats.Conn, st store.Store, o Options) (*Applier, error) {
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 10 * time.Minute
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxSeqJump == 0 {
		o.MaxSeqJump = DefaultMaxSeqJump
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas > 1 && o.Leads == nil {
		return nil, errNoLeads
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("ingest: jetstream: %w", err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterName,
		Description: "messages a hub service could not process, with the reason in the GridEdge-Reason header",
		Subjects:    []string{subject.DeadLetterAll(o.Domain)},
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
		MaxBytes:    o.MaxBytes,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: create stream %s: %w", DeadLetterName, err)
	}
	a := &Applier{js: js, st: st, opts: o, log: o.Logger, perEdge: map[string]*EdgeStats{}, hwm: map[string]uint64{}}
	if len(o.Edges) == 0 {
		if err := a.createStream(ctx, StreamName, "edge batches awaiting the ingest applier", subject.IngestAll(o.Domain), ""); err != nil {
			return nil, err
		}
		return a, nil
	}
	if err := a.drainShared(ctx); err != nil {
		return nil, err
	}
	for _, e := range o.Edges {
		var cluster string
		if o.Placement != nil {
			cluster = o.Placement(e)
		}
		if err := a.createStream(ctx, EdgeStream(e), "batches of edge "+e+" awaiting the ingest applier", subject.Ingest(o.Domain, e), cluster); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Applier) createStream(ctx context.Context, name, desc, subj, cluster string) error {
	var placement *jetstream.Placement
	if cluster != "" {
		placement = &jetstream.Placement{Cluster: cluster}
	}
	_, err := a.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Placement:   placement,
		Name:        name,
		Description: desc,
		Subjects:    []string{subj},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  a.opts.DuplicateWindow,
		MaxBytes:    a.opts.MaxBytes,
		Discard:     jetstream.DiscardNew,
		Replicas:    a.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("ingest: create stream %s: %w", name, err)
	}
	return nil
}

// drainShared applies what an older hub left in the shared stream INGEST
// (whose subjects overlap the edges' own streams), then removes it. Edges
// publishing meanwhile get no answer and keep their batches.
func (a *Applier) drainShared(ctx context.Context) error {
	stream, err := a.js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingest: look up the shared stream %s: %w", StreamName, err)
	}
	var names []string
	for n := range stream.ConsumerNames(ctx).Name() {
		names = append(names, n)
	}
	for _, n := range names {
		if err := stream.DeleteConsumer(ctx, n); err != nil {
			return fmt.Errorf("ingest: delete consumer %s of the shared stream: %w", n, err)
		}
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: ConsumerName + "-drain", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 1,
	})
	if err != nil {
		return fmt.Errorf("ingest: consume the shared stream %s: %w", StreamName, err)
	}
	for ctx.Err() == nil {
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("ingest: shared stream %s: %w", StreamName, err)
		}
		if info.State.Msgs == 0 {
			break
		}
		a.log.Info("ingest: applying the batches left in the shared stream before moving to a stream per edge", "batches", info.State.Msgs)
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("ingest: read the shared stream %s: %w", StreamName, err)
		}
		for msg := range batch.Messages() {
			a.handle(ctx, msg)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ingest: drain the shared stream %s: %w", StreamName, err)
	}
	if err := a.js.DeleteStream(ctx, StreamName); err != nil {
		return fmt.Errorf("ingest: remove the drained shared stream %s: %w", StreamName, err)
	}
	a.log.Info("ingest: moved to a stream per edge", "removed", StreamName)
	return nil
}

// Stats returns the counters.
func (a *Applier) Stats() Stats {
	return Stats{Batches: a.batches.Load(), Updates: a.updates.Load(), Skipped: a.skipped.Load(),
		Gaps: a.gaps.Load(), DeadLetters: a.dead.Load(), Quarantined: a.quarantined.Load(), Refused: a.refused.Load(),
		Retries: a.retries.Load()}
}

// EdgeStats returns the counters of one edge (zero if it sent nothing yet).
func (a *Applier) EdgeStats(edge string) EdgeStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.perEdge[edge]; s != nil {
		return *s
	}
	return EdgeStats{}
}

func (a *Applier) edgeStats(edge string, f func(*EdgeStats)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.perEdge[edge]
	if s == nil {
		s = &EdgeStats{}
		a.perEdge[edge] = s
	}
	f(s)
}

// consumerName is the durable consumer of one edge's stream.
func consumerName(edge string) string { return ConsumerName + "-" + edge }

// consumerConfig is the configuration of the applier's durable consumer
// name.
func consumerConfig(name string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:   name,
		AckPolicy: jetstream.AckExplicitPolicy,
		// short, so that a batch in flight when a hub died is redelivered
		// soon after the restart (the batches after it wait for it, see
		// clusterConsumer); slow applies send InProgress
		AckWait: 5 * time.Second,
		// a group of waiting batches is taken at once (group.go)
		MaxAckPending: maxGroup,
		MaxDeliver:    -1,
	}
}

// Run applies batches until ctx is done: one durable consumer on each
// edge's stream (or one on the shared stream when Options.Edges is empty),
// each applying its batches strictly in order, a group of waiting batches
// at a time (group.go).
func (a *Applier) Run(ctx context.Context) error {
	type source struct{ stream, consumer string }
	var sources []source
	if len(a.opts.Edges) == 0 {
		// a work-queue stream refuses overlapping consumers: remove the
		// per-edge ones an older hub made (their batches stay in the stream)
		stream, err := a.js.Stream(ctx, StreamName)
		if err != nil {
			return fmt.Errorf("ingest: stream %s: %w", StreamName, err)
		}
		var stale []string
		for n := range stream.ConsumerNames(ctx).Name() {
			if n != ConsumerName {
				stale = append(stale, n)
			}
		}
		for _, n := range stale {
			if err := stream.DeleteConsumer(ctx, n); err != nil {
				return fmt.Errorf("ingest: delete consumer %s of the shared stream: %w", n, err)
			}
			a.log.Info("ingest: removed a per-edge consumer of the shared stream", "consumer", n)
		}
		sources = append(sources, source{StreamName, ConsumerName})
	}
	for _, e := range a.opts.Edges {
		sources = append(sources, source{EdgeStream(e), consumerName(e)})
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, src := range sources {
		cons, err := a.js.CreateOrUpdateConsumer(ctx, src.stream, consumerConfig(src.consumer))
		if err != nil {
			return fmt.Errorf("ingest: create consumer %s on stream %s: %w", src.consumer, src.stream, err)
		}
		// in order, one hub or several (cluster.go)
		cons = a.clusterConsumer(ctx, cons, src.stream, src.consumer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.consume(ctx, cons)
		}()
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// permanentError marks a batch that will never apply.
type permanentError struct{ error }

func (a *Applier) handle(ctx context.Context, msg jetstream.Msg) {
	edge := subject.Token(msg.Subject(), 2)
	stop := func() {}
	defer func() { stop() }()
	for attempt := 1; ; attempt++ {
		err := a.apply(ctx, edge, msg.Data())
		if err == nil {
			stop()
			if a.opts.AfterApply != nil {
				a.opts.AfterApply(a.batches.Load())
			}
			if err := msg.Ack(); err != nil {
				a.log.Warn("ingest: ack failed; the batch will be redelivered and skipped by the high-water mark", "edge", edge, "err", err)
			}
			return
		}
		var perm permanentError
		if errors.As(err, &perm) {
			stop()
			a.deadLetter(ctx, msg, edge, perm.error)
			return
		}
		if ctx.Err() != nil {
			stop()
			_ = msg.Nak()
			return
		}
		if attempt == 1 {
			// kept in progress while it waits, so that it is not redelivered
			stop = keepInProgress([]pendingMsg{{msg: msg}})
		}
		a.retryWait(ctx, edge, attempt, err)
	}
}

// retryWait counts and logs a failed apply of edge's batches that is tried
// again (the store or the history unavailable), then waits a backoff that
// grows with attempt (from 1) up to maxRetryBackoff.
func (a *Applier) retryWait(ctx context.Context, edge string, attempt int, err error) {
	a.retries.Add(1)
	a.edgeStats(edge, func(s *EdgeStats) { s.Retries++ })
	backoff := min(time.Duration(attempt)*200*time.Millisecond, maxRetryBackoff)
	if attempt == 1 || attempt%retryLogEvery == 0 {
		a.log.Error("ingest: applying batch failed; nothing was committed, retrying", "edge", edge, "attempt", attempt, "backoff", backoff, "err", err)
	}
	sleep(ctx, backoff)
}

const (
	// maxRetryBackoff is the longest wait between two tries of a batch
	// whose apply failed (the store or the history unavailable).
	maxRetryBackoff = 5 * time.Second
	// retryLogEvery: a batch failing again is logged every this many
	// tries (about a minute at maxRetryBackoff), and on the first.
	retryLogEvery = 12
)

// decodeBatch decodes a binary (shared/wire) or JSON batch.
func decodeBatch(data []byte) (model.Batch, error) {
	var b model.Batch
	switch {
	case wire.IsBatch(data):
		var err error
		if b, err = wire.DecodeBatch(data); err != nil {
			return b, fmt.Errorf("malformed binary batch: %w", err)
		}
	case len(data) > 0 && data[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return b, fmt.Errorf("malformed batch JSON: %w", err)
		}
	default:
		return b, fmt.Errorf("not a batch: %d bytes starting % .4X, neither the binary format nor JSON", len(data), data[:min(len(data), 4)])
	}
	return b, nil
}

func (a *Applier) apply(ctx context.Context, edge string, data []byte) error {
	b, err := a.prepare(edge, data)
	if err != nil {
		return err
	}
	hwm, err := a.highWaterMark(ctx, edge)
	if err != nil {
		return err
	}
	if err := a.checkJump(&b, hwm); err != nil {
		return err
	}
	return a.commit(ctx, &b, nil)
}

// prepare decodes a batch and runs the checks that need no store: every
// error it returns is a permanentError.
func (a *Applier) prepare(edge string, data []byte) (model.Batch, error) {
	b, err := decodeBatch(data)
	if err != nil {
		return b, permanentError{err}
	}
	if err := b.Validate(); err != nil {
		return b, permanentError{err}
	}
	if b.Edge != edge {
		return b, permanentError{fmt.Errorf("batch of edge %q published on the subject of edge %q", b.Edge, edge)}
	}
	if a.opts.ReservedLayer != nil {
		for i := range b.Updates {
			if l := b.Updates[i].Layer; a.opts.ReservedLayer(l) {
				return b, permanentError{fmt.Errorf("update %d (seq %d) writes to layer %q, which is reserved for the hub", i, b.SeqFirst+uint64(i), l)}
			}
		}
	}
	if err := a.checkAllowed(&b); err != nil {
		return b, permanentError{err}
	}
	return b, nil
}

// checkJump quarantines a batch starting implausibly far above the edge's
// high-water mark hwm (a permanentError).
func (a *Applier) checkJump(b *model.Batch, hwm uint64) error {
	if b.SeqFirst > hwm && b.SeqFirst-hwm-1 > a.opts.MaxSeqJump {
		return permanentError{fmt.Errorf("%w: batch %d-%d starts %d above the high-water mark %d, more than the %d allowed (ingest.maxSeqJump)",
			ErrSequenceJump, b.SeqFirst, b.SeqLast, b.SeqFirst-hwm, hwm, a.opts.MaxSeqJump)}
	}
	return nil
}

// commit applies a checked batch to the store. When b merges a run of
// consecutive batches (parts, see group.go), they are counted and their
// changes reported as if applied one by one.
func (a *Applier) commit(ctx context.Context, b *model.Batch, parts []*model.Batch) error {
	batches := uint64(max(1, len(parts)))
	res, err := a.st.ApplyBatch(ctx, b, store.ApplyOptions{CreateMissing: a.opts.CreateMissing})
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		return permanentError{err}
	}
	if err != nil {
		return err
	}
	a.edgeStats(b.Edge, func(s *EdgeStats) {
		s.Batches += batches
		s.Applied += uint64(res.Applied)
		s.Skipped += uint64(res.Skipped)
		s.Missing += res.Gap
		s.LastSeq = max(s.LastSeq, b.SeqLast)
		s.LastApplied = time.Now().UTC()
	})
	a.mu.Lock()
	a.hwm[b.Edge] = max(a.hwm[b.Edge], b.SeqLast)
	a.mu.Unlock()
	a.batches.Add(batches)
	a.updates.Add(uint64(res.Applied))
	a.skipped.Add(uint64(res.Skipped))
	a.gaps.Add(res.Gap)
	if res.Gap > 0 {
		a.log.Warn("ingest: sequence gap: the edge dropped updates before sending them", "edge", b.Edge, "missing", res.Gap, "seq_first", b.SeqFirst)
	}
	for _, c := range res.Created {
		a.log.Info("ingest: created missing layer or collection", "name", c, "edge", b.Edge)
	}
	if a.opts.Changes != nil {
		changes := res.Changes
		if len(parts) > 1 {
			changes = changesPerBatch(parts, res)
		}
		for _, c := range changes {
			a.opts.Changes(c)
		}
	}
	return nil
}

// highWaterMark is the highest sequence number applied for edge: cached,
// read from the store on the edge's first batch (each edge's batches are
// applied by one goroutine, in order).
func (a *Applier) highWaterMark(ctx context.Context, edge string) (uint64, error) {
	a.mu.Lock()
	n, ok := a.hwm[edge]
	a.mu.Unlock()
	if ok {
		return n, nil
	}
	n, err := a.st.HighWaterMark(ctx, edge)
	if err != nil {
		return 0, fmt.Errorf("read the high-water mark of edge %q: %w", edge, err)
	}
	a.mu.Lock()
	n = max(n, a.hwm[edge])
	a.hwm[edge] = n
	a.mu.Unlock()
	return n, nil
}

// checkAllowed refuses a batch with an update outside its edge's allow-list.
func (a *Applier) checkAllowed(b *model.Batch) error {
	grants, ok := a.opts.Allowed[b.Edge]
	if !ok {
		return nil
	}
	for i := range b.Updates {
		u := &b.Updates[i]
		if !allows(grants, u.Layer, u.Collection) {
			return fmt.Errorf("update %d (seq %d) writes to %s/%s: %w", i, b.SeqFirst+uint64(i), u.Layer, u.Collection, ErrNotAllowed)
		}
	}
	return nil
}

func allows(grants []LayerGrant, layer, collection string) bool {
	for _, g := range grants {
		if g.Layer == layer && (len(g.Collections) == 0 || slices.Contains(g.Collections, collection)) {
			return true
		}
	}
	return false
}

func (a *Applier) deadLetter(ctx context.Context, msg jetstream.Msg, edge string, reason error) {
	a.dead.Add(1)
	jump, refused := errors.Is(reason, ErrSequenceJump), errors.Is(reason, ErrNotAllowed)
	if jump {
		a.quarantined.Add(1)
	}
	if refused {
		a.refused.Add(1)
	}
	a.edgeStats(edge, func(s *EdgeStats) {
		s.DeadLetters++
		if jump {
			s.Quarantined++
		}
		if refused {
			s.Refused++
		}
	})
	a.log.Error("ingest: batch moved to the dead-letter stream", "edge", edge, "reason", reason)
	dl := nats.NewMsg(subject.DeadLetter(a.opts.Domain, "ingest"))
	dl.Data = msg.Data()
	dl.Header.Set(HeaderReason, reason.Error())
	dl.Header.Set(HeaderEdge, edge)
	if _, err := a.js.PublishMsg(ctx, dl); err != nil {
		// keep the batch: without a dead letter it must not be lost
		a.log.Error("ingest: could not store the dead letter; leaving the batch in INGEST", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	if err := msg.Ack(); err != nil {
		a.log.Warn("ingest: ack of a dead-lettered batch failed", "err", err)
	}
}
