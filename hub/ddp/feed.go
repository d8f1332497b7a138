// The dispatcher: the one goroutine that applies change events,
// subscription starts and re-runs to the merge boxes, in one order.

package ddp

import (
	"errors"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// job is work for the dispatcher.
type job struct {
	// change is a change event from NATS.
	change *store.Change
	// changes are the changes of a method's writes.
	changes []store.Change
	// fn runs on the dispatcher.
	fn func()
	// done, when set, is closed once the job's messages are queued.
	done chan struct{}
	// at is when the job was queued.
	at time.Time
}

// run runs fn on the dispatcher; with wait, it returns once fn ran and its
// messages are queued (or the server stopped).
func (s *Server) run(fn func(), wait bool) {
	j := job{fn: fn, at: time.Now()}
	if wait {
		j.done = make(chan struct{})
	}
	s.submit(j)
}

// applied queues a method's changes and waits until their data messages
// are queued: the method's updated message must follow them.
func (s *Server) applied(changes []store.Change) {
	if len(changes) == 0 {
		return
	}
	s.submit(job{changes: changes, done: make(chan struct{}), at: time.Now()})
}

func (s *Server) submit(j job) {
	select {
	case s.jobs <- j:
	case <-s.quit:
		return
	}
	if j.done != nil {
		select {
		case <-j.done:
		case <-s.quit:
		}
	}
}

// maxRound caps the jobs one dispatcher round applies before it flushes.
const maxRound = 64

// dispatch is the dispatcher loop; it returns when the server closes. A
// round takes every job already queued (up to maxRound), applies them in
// order and then flushes each connection once: a burst of changes (an
// edge's batch) reaches a client as one batch of messages, one write and
// one writer wake-up, instead of one per change.
func (s *Server) dispatch() {
	round := make([]job, 0, maxRound)
	for {
		select {
		case <-s.quit:
			return
		case j := <-s.jobs:
			round = append(round[:0], j)
		}
	more:
		for len(round) < maxRound {
			select {
			case j := <-s.jobs:
				round = append(round, j)
			default:
				break more
			}
		}
		s.do(round)
		clear(round)
	}
}

// do applies a round of jobs, flushes the connections they changed, and
// then tells the waiting callers.
func (s *Server) do(round []job) {
	for _, j := range round {
		if j.fn != nil {
			j.fn()
		}
		if j.change != nil {
			s.applyChange(*j.change)
		}
		for _, ch := range j.changes {
			s.applyChange(ch)
		}
	}
	for _, c := range s.dirtyConns {
		if !c.gone {
			c.flush()
		}
	}
	clear(s.dirtyConns)
	s.dirtyConns = s.dirtyConns[:0]
	clear(s.msgs)
	for _, j := range round {
		if j.done != nil {
			close(j.done)
		}
	}
}

// applyChange brings every subscription of the changed collection up to
// date with the document as it is now in the store (read once, whatever
// the number of subscribers; reading it rather than trusting the event
// makes a repeated or late event harmless).
func (s *Server) applyChange(ch store.Change) {
	coll := ch.Layer + "_" + ch.Collection
	subs := s.byColl[coll]
	if len(subs) == 0 {
		return
	}
	if ch.Op == store.OpDrop {
		for sub := range subs {
			for _, id := range sub.c.held(sub) {
				sub.c.set(sub, id, nil)
			}
		}
		return
	}
	var doc store.Document
	if ch.Op != store.OpDelete {
		ctx, cancel := s.ctx()
		d, err := s.cfg.Store.Get(ctx, ch.Layer, ch.Collection, ch.ID)
		cancel()
		switch {
		case err == nil:
			doc = d
		case errors.Is(err, store.ErrNotFound):
		default:
			s.log.Error("ddp: read a changed document", "layer", ch.Layer, "collection", ch.Collection, "id", ch.ID, "err", err)
			return
		}
	}
	cache := map[string]*fieldSet{}
	for sub := range subs {
		if sub.rerunOnChange() {
			s.requery(sub, ch.ID, cache)
			continue
		}
		if doc != nil && sub.matches(doc) {
			sub.c.set(sub, ch.ID, sub.fieldsOf(doc, cache))
		} else {
			sub.c.set(sub, ch.ID, nil)
		}
	}
}

// requery re-runs a subscription with a limit or skip after a change of
// document id and applies the difference.
func (s *Server) requery(sub *subscription, id string, cache map[string]*fieldSet) {
	docs, err := s.query(sub)
	if err != nil {
		s.log.Error("ddp: re-run a subscription", "sub", sub.name, "err", err)
		return
	}
	keep := make(map[string]bool, len(docs))
	for _, d := range docs {
		did, ok := d[store.FieldID].(string)
		if !ok {
			continue
		}
		keep[did] = true
		if did == id {
			sub.c.set(sub, did, sub.fieldsOf(d, cache))
		} else if !sub.c.has(sub, did) {
			sub.c.set(sub, did, sub.fieldsOf(d, nil))
		}
	}
	for _, held := range sub.c.held(sub) {
		if !keep[held] {
			sub.c.set(sub, held, nil)
		}
	}
}
