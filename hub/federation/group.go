package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// entry is one received change: its FED_IN sequence and its encoding.
type entry struct {
	seq  uint64
	data []byte
}

// work is a decoded change to apply, with the local layer it goes to.
type work struct {
	*Change
	local string
}

// applyGroup applies a group of changes (in stream order, all above the
// high-water mark) and moves the mark to the last one. Changes are
// state, not deltas, so only the last change of each document in the group
// matters: the group is applied per collection, new documents inserted at
// once, existing ones set at once, deleted ones removed at once (a drop
// applies what came before it first). An error means "try the group again
// later"; a change that can never be applied is counted and skipped.
func (s *Service) applyGroup(ctx context.Context, p Peer, group []entry, cache map[string]bool) error {
	var todo, hist []work
	var looped, refused, failed uint64
	for _, e := range group {
		c, err := Unmarshal(e.data)
		switch {
		case err != nil:
			failed++
			s.fail(p.Name, fmt.Errorf("change %d of %s skipped: %w", e.seq, StreamIn(p.Name), err))
		case c.passedThrough(s.o.Domain):
			looped++
		default:
			im, ok := importOf(p.Import, c.Layer, c.Collection)
			if !ok {
				refused++ // deny by default: the peer sent what is not imported
				continue
			}
			if c.Op == OpHistory {
				hist = append(hist, work{Change: c, local: im.Local()})
				continue
			}
			todo = append(todo, work{Change: c, local: im.Local()})
		}
	}
	var changes []store.Change
	for len(todo) > 0 {
		// up to the next drop
		n := slices.IndexFunc(todo, func(w work) bool { return w.Op == OpDrop })
		if n < 0 {
			n = len(todo)
		}
		chs, err := s.applyStates(ctx, p.Name, todo[:n], cache)
		if err != nil {
			return err
		}
		changes = append(changes, chs...)
		if n < len(todo) {
			d := todo[n]
			if err := s.ensureCollection(ctx, p.Name, d.local, d.Collection, cache); err != nil {
				return err
			}
			res, err := s.o.Store.DeleteMany(ctx, d.local, d.Collection, nil)
			if err != nil {
				return fmt.Errorf("federation: empty %s/%s: %w", d.local, d.Collection, err)
			}
			changes = append(changes, res.Changes...)
			s.countApplied(p.Name, todo[n:n+1])
			n++
		}
		todo = todo[n:]
	}
	if err := s.appendHistory(ctx, p.Name, hist); err != nil {
		return err
	}
	s.mu.Lock()
	ps := s.peer(p.Name)
	ps.hwm = group[len(group)-1].seq
	ps.looped += looped
	ps.refused += refused
	ps.failed += failed
	s.mu.Unlock()
	if s.o.Changes != nil {
		for _, ch := range changes {
			s.o.Changes(ch)
		}
	}
	return nil
}

// applyStates applies changes without drops: the last state of each
// document, collection by collection.
func (s *Service) applyStates(ctx context.Context, peer string, ws []work, cache map[string]bool) ([]store.Change, error) {
	type coll struct{ local, col string }
	last := map[coll]map[string]*Change{}
	var order []coll
	for _, w := range ws {
		k := coll{w.local, w.Collection}
		if last[k] == nil {
			last[k] = map[string]*Change{}
			order = append(order, k)
		}
		last[k][w.ID] = w.Change
	}
	var changes []store.Change
	st := s.o.Store
	for _, k := range order {
		if err := s.ensureCollection(ctx, peer, k.local, k.col, cache); err != nil {
			return nil, err
		}
		var puts, dels []string
		for id, c := range last[k] {
			if c.Op == OpPut {
				puts = append(puts, id)
			} else {
				dels = append(dels, id)
			}
		}
		slices.Sort(puts)
		slices.Sort(dels)
		if len(puts) > 0 {
			existing, err := findIDs(ctx, st, k.local, k.col, puts)
			if err != nil {
				return nil, err
			}
			var inserts, sets []store.Document
			for _, id := range puts {
				doc := last[k][id].Doc
				doc[store.FieldID] = id
				delete(doc, store.FieldUpdated)
				old, ok := existing[id]
				switch {
				case !ok:
					inserts = append(inserts, doc)
				case sameDocument(old, doc):
					// sent again (the exporter's start-up reconciliation):
					// nothing to write, nothing to announce
					s.mu.Lock()
					s.peer(peer).unchanged++
					s.mu.Unlock()
				case hasFieldsBeyond(old, doc):
					// fields to remove: an update of its own
					ch, err := putDocument(ctx, st, k.local, k.col, id, doc)
					if err != nil {
						if !permanent(err) {
							return nil, err
						}
						s.countFailed(peer, err)
					} else if ch != nil {
						changes = append(changes, *ch)
					}
				default:
					sets = append(sets, doc)
				}
			}
			for _, w := range []struct {
				what  string
				write func() (store.WriteResult, error)
				docs  []store.Document
			}{
				{"insert", func() (store.WriteResult, error) { return st.Insert(ctx, k.local, k.col, inserts) }, inserts},
				{"update", func() (store.WriteResult, error) { return st.Bulk(ctx, k.local, k.col, sets, false) }, sets},
			} {
				if len(w.docs) == 0 {
					continue
				}
				res, err := w.write()
				if err != nil {
					return nil, fmt.Errorf("federation: %s %d documents of %s/%s: %w", w.what, len(w.docs), k.local, k.col, err)
				}
				for i := range res.Errors {
					s.countFailed(peer, fmt.Errorf("%s %s/%s/%s: %s", w.what, k.local, k.col, res.ErrorIDs[i], res.Errors[i]))
				}
				changes = append(changes, res.Changes...)
			}
		}
		if len(dels) > 0 {
			sel, err := query.CompileSelector(map[string]any{store.FieldID: map[string]any{"$in": anySlice(dels)}})
			if err != nil {
				return nil, fmt.Errorf("federation: select the documents to delete: %w", err)
			}
			res, err := st.DeleteMany(ctx, k.local, k.col, sel)
			if err != nil {
				return nil, fmt.Errorf("federation: delete %d documents of %s/%s: %w", len(dels), k.local, k.col, err)
			}
			changes = append(changes, res.Changes...)
		}
	}
	s.countApplied(peer, ws)
	return changes, nil
}

// countApplied updates the per-layer figures after ws were applied.
func (s *Service) countApplied(peer string, ws []work) {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.peer(peer)
	for _, w := range ws {
		ps.applied++
		ls := ps.perLayer[w.local]
		if ls == nil {
			ls = &LayerStatus{}
			ps.perLayer[w.local] = ls
		}
		ls.From, ls.Applied, ls.LastApplied = w.Layer, ls.Applied+1, now
		ls.LagMillis = now.Sub(w.At).Milliseconds()
		if !slices.Equal(s.origins[w.local], w.Origin) {
			s.origins[w.local] = slices.Clone(w.Origin)
		}
	}
}

func (s *Service) countFailed(peer string, err error) {
	s.mu.Lock()
	s.peer(peer).failed++
	s.mu.Unlock()
	s.fail(peer, err)
}

// findIDs returns the stored documents among ids, by id.
func findIDs(ctx context.Context, st store.Store, layer, col string, ids []string) (map[string]store.Document, error) {
	sel, err := query.CompileSelector(map[string]any{store.FieldID: map[string]any{"$in": anySlice(ids)}})
	if err != nil {
		return nil, fmt.Errorf("federation: select %d documents: %w", len(ids), err)
	}
	docs, err := st.Find(ctx, layer, col, store.FindOptions{Selector: sel})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("federation: read %d documents of %s/%s: %w", len(ids), layer, col, err)
	}
	out := make(map[string]store.Document, len(docs))
	for _, d := range docs {
		if id, ok := d[store.FieldID].(string); ok {
			out[id] = d
		}
	}
	return out, nil
}

// hasFieldsBeyond reports whether old has a field (other than _id and
// _updated) that doc lacks.
func hasFieldsBeyond(old, doc store.Document) bool {
	for k := range old {
		if _, ok := doc[k]; !ok && k != store.FieldID && k != store.FieldUpdated {
			return true
		}
	}
	return false
}

// sameDocument reports whether old and doc hold the same fields and values
// (but for _updated).
func sameDocument(old, doc store.Document) bool {
	a, err := canonical(old)
	if err != nil {
		return false
	}
	b, err := canonical(doc)
	return err == nil && bytes.Equal(a, b)
}
