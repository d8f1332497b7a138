package federation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
)

// consumerName is the importer's durable consumer on FED_IN_<peer>.
const consumerName = "applier"

// fetchSize is how many changes the importer takes at once; the high-water
// mark is stored once per group.
const fetchSize = 256

// runImport applies FED_IN_<peer> in order. The high-water mark (the
// stream sequence applied last) is stored in the peer's status document
// after each group and before the group is acknowledged: a change
// redelivered after a crash or a lost acknowledgement is skipped, and one
// applied again before its mark was stored sets the same document content.
func (s *Service) runImport(ctx context.Context, p Peer) error {
	if err := s.loadStatus(ctx, p.Name); err != nil {
		return err
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, StreamIn(p.Name), jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 4 * fetchSize,
		MaxDeliver:    -1,
	})
	if err != nil {
		return fmt.Errorf("federation: create consumer %s on %s: %w", consumerName, StreamIn(p.Name), err)
	}
	cache := map[string]bool{} // local layer_collection known to exist
	for ctx.Err() == nil {
		msgs, err := fetchGroup(cons)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.fail(p.Name, fmt.Errorf("read %s: %w", StreamIn(p.Name), err))
			sleep(ctx, time.Second)
			continue
		}
		var group []entry
		s.mu.Lock()
		hwm := s.peer(p.Name).hwm
		s.mu.Unlock()
		for _, msg := range msgs {
			meta, err := msg.Metadata()
			if err != nil {
				s.fail(p.Name, fmt.Errorf("message metadata: %w", err))
				continue
			}
			if seq := meta.Sequence.Stream; seq > hwm {
				group = append(group, entry{seq: seq, data: msg.Data()})
			}
		}
		if len(msgs) == 0 {
			continue
		}
		if len(group) > 0 {
			if err := s.applyGroup(ctx, p, group, cache); err != nil {
				// a store that fails now may work later: the group comes
				// again (what was applied of it is applied again, to the
				// same content)
				s.fail(p.Name, err)
				for _, m := range msgs {
					_ = m.NakWithDelay(time.Second)
				}
				sleep(ctx, time.Second)
				continue
			}
			// the high-water mark is stored before the group is
			// acknowledged, also when the hub is stopping
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := s.writeStatus(wctx, p.Name, false)
			cancel()
			if err != nil {
				// redelivered, then skipped by the mark in memory, or after a
				// restart applied again to the same content
				s.fail(p.Name, err)
				continue
			}
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
	}
	return nil
}

// fetchGroup takes up to fetchSize changes of cons: those waiting now, or,
// when none is, the first to arrive within a second. A fetch of fetchSize
// with a wait would return only when fetchSize changes came or the wait
// ended, holding a lone change (or the tail of a burst) back for the whole
// wait.
func fetchGroup(cons jetstream.Consumer) ([]jetstream.Msg, error) {
	batch, err := cons.FetchNoWait(fetchSize)
	if err != nil {
		return nil, fmt.Errorf("fetch the waiting changes: %w", err)
	}
	msgs := collect(batch)
	if len(msgs) > 0 {
		return msgs, nil
	}
	if batch, err = cons.Fetch(1, jetstream.FetchMaxWait(time.Second)); err != nil {
		return nil, fmt.Errorf("wait for a change: %w", err)
	}
	return collect(batch), nil
}

// collect reads the messages of a fetch.
func collect(batch jetstream.MessageBatch) []jetstream.Msg {
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	return msgs
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// permanent reports errors that applying again cannot cure.
func permanent(err error) bool {
	return errors.Is(err, errBadChange) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict)
}

// importOf finds the import that covers a peer's layer/collection.
func importOf(ims []Import, layer, col string) (Import, bool) {
	for _, im := range ims {
		if im.Layer == layer && im.allows(col) {
			return im, true
		}
	}
	return Import{}, false
}

// ensureCollection creates the local layer and collection of an import
// when missing.
func (s *Service) ensureCollection(ctx context.Context, peer, layer, col string, cache map[string]bool) error {
	key := store.StoreName(layer, col)
	if cache[key] {
		return nil
	}
	l, err := s.o.Store.Layer(ctx, layer)
	if errors.Is(err, store.ErrNotFound) {
		l = &store.Layer{ID: layer, Label: layer, Description: "imported from deployment " + peer + " (read-only)"}
	} else if err != nil {
		return fmt.Errorf("federation: look up layer %q: %w", layer, err)
	}
	if l.Collection(col) == nil {
		l.Collections = append(l.Collections, store.Collection{Name: col})
		if err := s.o.Store.PutLayer(ctx, *l); err != nil {
			return fmt.Errorf("federation: create %s/%s: %w", layer, col, err)
		}
	}
	cache[key] = true
	return nil
}

// putDocument makes the stored document equal doc (but for _updated): an
// insert when missing, otherwise a $set of every field and an $unset of
// the fields doc no longer has. It returns the change made (nil: none).
func putDocument(ctx context.Context, st store.Store, layer, col, id string, doc map[string]any) (*store.Change, error) {
	doc[store.FieldID] = id
	delete(doc, store.FieldUpdated)
	old, err := st.Get(ctx, layer, col, id)
	if errors.Is(err, store.ErrNotFound) {
		res, err := st.Insert(ctx, layer, col, []store.Document{doc})
		if err != nil {
			return nil, fmt.Errorf("federation: insert %s/%s/%s: %w", layer, col, id, err)
		}
		if res.Err > 0 {
			return nil, fmt.Errorf("federation: insert %s/%s/%s: %w: %s", layer, col, id, store.ErrInvalid, res.Errors[0])
		}
		if len(res.Changes) == 0 {
			return nil, nil
		}
		return &res.Changes[0], nil
	}
	if err != nil {
		return nil, fmt.Errorf("federation: read %s/%s/%s: %w", layer, col, id, err)
	}
	set := map[string]any{}
	for k, v := range doc {
		if k != store.FieldID {
			set[k] = v
		}
	}
	unset := map[string]any{}
	for k := range old {
		if _, ok := doc[k]; !ok && k != store.FieldID && k != store.FieldUpdated {
			unset[k] = ""
		}
	}
	update := map[string]any{}
	if len(set) > 0 {
		update["$set"] = set
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	if len(update) == 0 {
		return nil, nil
	}
	changed, err := st.UpdateByID(ctx, layer, col, id, update)
	if err != nil {
		return nil, fmt.Errorf("federation: update %s/%s/%s: %w", layer, col, id, err)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return &store.Change{Op: store.OpUpdate, Layer: layer, Collection: col, ID: id, Fields: changed}, nil
}
