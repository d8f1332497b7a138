package iot

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// writer applies readings to the store as edge batches of a pseudo-edge,
// so that documents, change events and history are written the way the
// ingest applier writes edge batches. Concurrent writes are grouped: the
// first caller to find the store free commits every pending request in
// one batch (one transaction) while the others wait for its result.
type writer struct {
	st      store.Store
	edge    string
	changes func(store.Change)

	mu      sync.Mutex // guards pending
	pending []*writeReq
	sem     chan struct{} // the committer's token; seq is owned by its holder
	seq     uint64
}

type writeReq struct {
	updates []model.Update
	done    chan error
}

// maxGroup bounds the updates of one batch.
const maxGroup = 4096

func newWriter(ctx context.Context, st store.Store, edge string, changes func(store.Change)) (*writer, error) {
	hwm, err := st.HighWaterMark(ctx, edge)
	if err != nil {
		return nil, fmt.Errorf("read the high-water mark of %q: %w", edge, err)
	}
	return &writer{st: st, edge: edge, changes: changes, seq: hwm, sem: make(chan struct{}, 1)}, nil
}

// write applies updates and returns when they are committed.
func (w *writer) write(ctx context.Context, updates []model.Update) error {
	if len(updates) == 0 {
		return nil
	}
	req := &writeReq{updates: updates, done: make(chan error, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, req)
	w.mu.Unlock()
	for {
		select {
		case err := <-req.done:
			return err
		case w.sem <- struct{}{}:
			w.commitPending(ctx)
			<-w.sem
		case <-ctx.Done():
			// the request may still be committed by another caller
			return ctx.Err()
		}
	}
}

// commitPending commits what is pending; the caller holds sem.
func (w *writer) commitPending(ctx context.Context) {
	w.mu.Lock()
	var group []*writeReq
	n := 0
	i := 0
	for ; i < len(w.pending) && (n == 0 || n+len(w.pending[i].updates) <= maxGroup); i++ {
		n += len(w.pending[i].updates)
	}
	group, w.pending = w.pending[:i:i], w.pending[i:]
	w.mu.Unlock()
	if len(group) == 0 {
		return
	}
	// the batch outlives a caller that gives up: the others wait for it
	ctx = context.WithoutCancel(ctx)
	all := make([]model.Update, 0, n)
	for _, r := range group {
		all = append(all, r.updates...)
	}
	err := w.apply(ctx, all)
	if err != nil && len(group) > 1 {
		// one bad request must not fail the others: apply one by one
		for _, r := range group {
			r.done <- w.apply(ctx, r.updates)
		}
		return
	}
	for _, r := range group {
		r.done <- err
	}
}

// apply writes one batch; the caller holds sem.
func (w *writer) apply(ctx context.Context, updates []model.Update) error {
	b := model.Batch{Edge: w.edge, SeqFirst: w.seq + 1, SeqLast: w.seq + uint64(len(updates)), Updates: updates}
	res, err := w.st.ApplyBatch(ctx, &b, store.ApplyOptions{CreateMissing: true})
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return wrongSyntax("%v", err)
		}
		return fmt.Errorf("apply %d device updates: %w", len(updates), err)
	}
	w.seq = b.SeqLast
	if w.changes != nil {
		for _, c := range res.Changes {
			w.changes(c)
		}
	}
	return nil
}
