package ingest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// Group commit. Applying one batch per JetStream fetch and per store
// transaction pays a fetch round trip and a commit (an fsync on bolt) for
// every batch, which bounds how fast a backlog drains (an edge coming back
// after an outage, a hub restarting). So a consumer takes up to maxGroup
// batches already waiting in its stream, and merges consecutive batches of
// one edge whose sequence numbers follow on into one batch, applied in one
// store transaction with the edge's high-water mark: a crash before the
// acknowledgements replays them as skips, exactly as for a single batch.
// Batches apply in stream order; a batch failing a check is dead-lettered
// on its own; a merged run the store refuses is applied again batch by
// batch (handle), so that only the bad batch is dead-lettered; a run that
// fails for another reason (the store or the history unavailable) is tried
// again as a run, with a backoff.
const (
	// maxGroup is how many messages a consumer takes per fetch, and so
	// its MaxAckPending.
	maxGroup = 64
	// maxRunUpdates bounds the updates of one merged run (one store
	// transaction), so that a run commits well within the consumer's
	// AckWait.
	maxRunUpdates = 16 << 10
)

// maxRunFields bounds the fields (readings, mostly) the updates of one
// merged run set: a run is decoded and held whole while it commits, at a
// few hundred bytes a reading, so this bounds the hub's memory during a
// replay whatever the size of the edge's updates (about 4,200 updates of
// 30 readings; runs of 16,384 such updates held about 0.5 GB). A variable
// for the tests.
var maxRunFields = 128 << 10

// fields counts the fields the updates of b set.
func fields(b *model.Batch) int {
	n := 0
	for i := range b.Updates {
		n += len(b.Updates[i].Set)
	}
	return n
}

// consume applies the batches of one consumer until ctx is done; fetch
// errors are retried, so it has nothing to return.
func (a *Applier) consume(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		msgs, err := a.fetchGroup(cons)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.log.Warn("ingest: fetch failed; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		a.handleGroup(ctx, msgs)
	}
}

// fetchGroup returns the messages waiting in the stream (up to maxGroup),
// or waits up to a second for the next one.
func (a *Applier) fetchGroup(cons jetstream.Consumer) ([]jetstream.Msg, error) {
	batch, err := cons.FetchNoWait(maxGroup)
	if err != nil {
		return nil, err
	}
	if msgs := a.collect(batch); len(msgs) > 0 {
		return msgs, nil
	}
	if batch, err = cons.Fetch(1, jetstream.FetchMaxWait(time.Second)); err != nil {
		return nil, err
	}
	msgs := a.collect(batch)
	if len(msgs) == 0 {
		return nil, nil
	}
	// what arrived with it goes into the same group
	if more, err := cons.FetchNoWait(maxGroup - 1); err == nil {
		msgs = append(msgs, a.collect(more)...)
	}
	return msgs, nil
}

func (a *Applier) collect(batch jetstream.MessageBatch) []jetstream.Msg {
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		a.log.Debug("ingest: fetch", "err", err)
	}
	return msgs
}

// pendingMsg is a checked batch waiting to be applied with its run.
type pendingMsg struct {
	msg jetstream.Msg
	b   model.Batch
}

// handleGroup applies msgs in order, merging runs of consecutive batches.
func (a *Applier) handleGroup(ctx context.Context, msgs []jetstream.Msg) {
	if len(msgs) == 1 {
		a.handle(ctx, msgs[0])
		return
	}
	// the whole group is kept in progress while it is handled, not only the
	// run committing: a slow commit would otherwise let the batches waiting
	// behind it pass the AckWait, to be delivered again and skipped by the
	// high-water mark (work done twice)
	all := make([]pendingMsg, len(msgs))
	for i, m := range msgs {
		all[i].msg = m
	}
	stop := keepInProgress(all)
	defer stop()
	var run []pendingMsg
	n, nf := 0, 0 // updates and fields in run
	for _, msg := range msgs {
		edge := subject.Token(msg.Subject(), 2)
		b, err := a.prepare(edge, msg.Data())
		if err != nil {
			a.applyRun(ctx, run)
			run, n, nf = nil, 0, 0
			a.deadLetter(ctx, msg, edge, err.(permanentError).error)
			continue
		}
		bf := fields(&b)
		if len(run) > 0 && follows(&run[len(run)-1].b, &b) && n+len(b.Updates) <= maxRunUpdates && nf+bf <= maxRunFields {
			// b starts right after the run, which only a sequence jump
			// check of the run's first batch could refuse
			run = append(run, pendingMsg{msg, b})
			n, nf = n+len(b.Updates), nf+bf
			continue
		}
		a.applyRun(ctx, run)
		run, n, nf = nil, 0, 0
		// the run before is applied: the high-water mark is current
		hwm, err := a.highWaterMark(ctx, edge)
		if err != nil {
			a.handle(ctx, msg) // retries
			continue
		}
		if err := a.checkJump(&b, hwm); err != nil {
			a.deadLetter(ctx, msg, edge, err.(permanentError).error)
			continue
		}
		run, n, nf = []pendingMsg{{msg, b}}, len(b.Updates), bf
	}
	a.applyRun(ctx, run)
}

// inProgressEvery is how often the messages of a run still committing are
// reported in progress: well within the consumer's AckWait (5s).
const inProgressEvery = 2 * time.Second

// keepInProgress reports the messages of run in progress every
// inProgressEvery until stop is called (and returns), so that a slow
// commit (a big run on a slow store, or retries) does not get them
// redelivered. stop may be called more than once.
func keepInProgress(run []pendingMsg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(inProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, p := range run {
					_ = p.msg.InProgress()
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// follows tells whether b continues prev: same edge, next sequence number.
func follows(prev, b *model.Batch) bool {
	return b.Edge == prev.Edge && b.SeqFirst == prev.SeqLast+1
}

// applyRun applies a run of checked batches as one and acknowledges them;
// when that fails, each is handled on its own.
func (a *Applier) applyRun(ctx context.Context, run []pendingMsg) {
	if len(run) == 0 {
		return
	}
	merged := run[0].b
	var parts []*model.Batch
	if len(run) > 1 {
		parts = make([]*model.Batch, len(run))
		for i := range run {
			parts[i] = &run[i].b
		}
		n := 0
		for i := range run {
			n += len(run[i].b.Updates)
		}
		merged.Updates = make([]model.Update, 0, n)
		for i := range run {
			merged.Updates = append(merged.Updates, run[i].b.Updates...)
		}
		merged.SeqLast = run[len(run)-1].b.SeqLast
	}
	err := a.commit(ctx, &merged, parts)
	// a failure that is not the batches' fault (the store, or the history
	// the readings are recorded in before the commit, unavailable) is
	// retried as a run, its batches kept in progress meanwhile (with the
	// rest of their group, by handleGroup)
	var perm permanentError
	for attempt := 1; err != nil && !errors.As(err, &perm) && ctx.Err() == nil; attempt++ {
		a.retryWait(ctx, merged.Edge, attempt, err)
		if ctx.Err() == nil {
			err = a.commit(ctx, &merged, parts)
		}
	}
	if err != nil && ctx.Err() != nil {
		for _, p := range run {
			_ = p.msg.Nak()
		}
		return
	}
	if err != nil {
		a.log.Debug("ingest: a merged run was refused; applying its batches one by one", "edge", merged.Edge,
			"batches", len(run), "seq_first", merged.SeqFirst, "seq_last", merged.SeqLast, "err", err)
		for _, p := range run {
			a.handle(ctx, p.msg)
		}
		return
	}
	if a.opts.AfterApply != nil {
		a.opts.AfterApply(a.batches.Load())
	}
	for _, p := range run {
		if err := p.msg.Ack(); err != nil {
			a.log.Warn("ingest: ack failed; the batch will be redelivered and skipped by the high-water mark", "edge", merged.Edge, "err", err)
		}
	}
}

// changesPerBatch splits the changes of a merged run (res) into those of
// each of its batches, as applying them one by one reports them: per
// batch, one change per document with the fields its updates set; an
// insert for the first batch writing a document the run inserted. The
// first res.Skipped updates were at or below the high-water mark.
func changesPerBatch(parts []*model.Batch, res store.ApplyResult) []store.Change {
	type docKey struct{ layer, col, id string }
	ops := make(map[docKey]string, len(res.Changes))
	for _, c := range res.Changes {
		ops[docKey{c.Layer, c.Collection, c.ID}] = c.Op
	}
	skip := res.Skipped
	var out []store.Change
	for _, b := range parts {
		idx := map[docKey]int{}
		for i := range b.Updates {
			if skip > 0 {
				skip--
				continue
			}
			u := &b.Updates[i]
			k := docKey{u.Layer, u.Collection, u.ID}
			if j, ok := idx[k]; ok {
				if !hasAll(out[j].Fields, u.Set) {
					out[j].Fields = store.MergeFields(out[j].Fields, slices.Collect(maps.Keys(u.Set)))
				}
				continue
			}
			fields := slices.Sorted(maps.Keys(u.Set))
			op := ops[k]
			if op == "" {
				op = store.OpUpdate
			}
			ops[k] = store.OpUpdate // later batches update it
			idx[k] = len(out)
			out = append(out, store.Change{Op: op, Layer: u.Layer, Collection: u.Collection, ID: u.ID, Fields: fields})
		}
	}
	return out
}

// hasAll reports whether the sorted fields list every key of set.
func hasAll(fields []string, set map[string]any) bool {
	for k := range set {
		if _, ok := slices.BinarySearch(fields, k); !ok {
			return false
		}
	}
	return true
}
