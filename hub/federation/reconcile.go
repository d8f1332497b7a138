package federation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// Durable export. The exporter follows the store's change feed, a core NATS
// publish made after the store's commit: a hub stopped (or killed) between
// the two has a change in its store that was never exported. FED_OUT keeps
// one subject per document, so its last message per subject is the last
// state exported of each document; at start, before following the feed,
// the exporter compares that with the store and exports what differs (a
// put for a document missing or different at the peer, a delete for one
// the store no longer has). Ingest pays nothing for it: the cost is one
// read of the exported collections and of FED_OUT's last messages per
// start. A document whose last export left FED_OUT (7 days) is exported
// again; the importer skips a put equal to what it has.

// mark is the last state of one document exported to a peer.
type mark struct {
	seq uint64
	op  string
	doc []byte // canonical encoding (put)
}

// exported is what FED_OUT_<peer> says the peer got of one layer: per
// collection, the last state of each document and the sequence of the
// last drop.
type exported struct {
	docs  map[string]map[string]mark // collection → id → mark
	drops map[string]uint64          // collection → sequence of its last drop
}

// reconcile exports, to every peer, the changes of exported layers that
// FED_OUT does not hold: those committed to the store whose change event
// was never read. It returns how many changes it exported.
func (s *Service) reconcile(ctx context.Context, js jetstream.JetStream) int {
	total := 0
	for _, p := range s.o.Config.Peers {
		for _, g := range p.Export {
			n, err := s.reconcileGrant(ctx, js, p.Name, g)
			total += n
			if err != nil && ctx.Err() == nil {
				s.fail(p.Name, fmt.Errorf("reconcile the export of %s: %w", g, err))
			}
		}
	}
	s.waitAcks(ctx, js)
	if total > 0 {
		s.log.Info("federation: exported the changes missed by the change feed", "changes", total)
	}
	return total
}

// reconcileGrant reconciles one exported layer with one peer.
func (s *Service) reconcileGrant(ctx context.Context, js jetstream.JetStream, peer string, g Grant) (int, error) {
	origin := s.exportOrigin(g.Layer)
	if slices.Contains(origin, peer) {
		return 0, nil // never sent back
	}
	ex, err := s.readExported(ctx, peer, g.Layer)
	if err != nil {
		return 0, err
	}
	cols := map[string]bool{}
	for col := range ex.docs {
		cols[col] = true
	}
	l, err := s.o.Store.Layer(ctx, g.Layer)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return 0, fmt.Errorf("read layer %q: %w", g.Layer, err)
	default:
		for _, c := range l.Collections {
			cols[c.Name] = true
		}
	}
	n := 0
	for _, col := range slices.Sorted(func(yield func(string) bool) {
		for c := range cols {
			if !yield(c) {
				return
			}
		}
	}) {
		if !g.allows(col) {
			continue
		}
		k, err := s.reconcileCollection(ctx, js, peer, g.Layer, col, ex, origin)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// reconcileCollection exports what differs between the store's collection
// and what the peer got of it.
func (s *Service) reconcileCollection(ctx context.Context, js jetstream.JetStream, peer, layer, col string, ex exported, origin []string) (int, error) {
	docs, err := s.o.Store.Find(ctx, layer, col, store.FindOptions{})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("read %s/%s: %w", layer, col, err)
	}
	marks := ex.docs[col]
	drop := ex.drops[col]
	// the peer has a document when its last state sent is a put after the
	// collection's last drop
	has := func(m mark, ok bool) bool { return ok && m.op == OpPut && m.seq > drop }
	n := 0
	send := func(fc *Change) error {
		data, err := fc.Marshal()
		if err != nil {
			return err
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: s.outSubject(peer, fc), Data: data}); err != nil {
			return fmt.Errorf("export %s/%s/%s: %w", layer, col, fc.ID, err)
		}
		s.mu.Lock()
		s.peer(peer).exported++
		s.peer(peer).reconciled++
		s.mu.Unlock()
		n++
		return nil
	}
	seen := make(map[string]bool, len(docs))
	for _, d := range docs {
		id, _ := d[store.FieldID].(string)
		if id == "" {
			continue
		}
		seen[id] = true
		delete(d, store.FieldUpdated)
		canon, err := canonical(d)
		if err != nil {
			return n, err
		}
		if m, ok := marks[id]; has(m, ok) && bytes.Equal(m.doc, canon) {
			continue
		}
		if err := send(&Change{Origin: origin, Op: OpPut, Layer: layer, Collection: col, ID: id, Doc: d, At: time.Now().UTC()}); err != nil {
			return n, err
		}
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range marks {
			if !yield(id) {
				return
			}
		}
	}) {
		if m := marks[id]; seen[id] || !has(m, true) {
			continue
		}
		if err := send(&Change{Origin: origin, Op: OpDelete, Layer: layer, Collection: col, ID: id, At: time.Now().UTC()}); err != nil {
			return n, err
		}
	}
	return n, nil
}

// canonical encodes a document the same way whatever its origin (the
// store, or a change decoded from FED_OUT): dates as {"$date": …}, keys
// sorted.
func canonical(doc map[string]any) ([]byte, error) {
	d := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != store.FieldUpdated {
			d[k] = v
		}
	}
	b, err := json.Marshal(encodeDates(d))
	if err != nil {
		return nil, fmt.Errorf("federation: encode document %v: %w", doc[store.FieldID], err)
	}
	return b, nil
}

// readBatch is how many messages the reconciliation reads at once.
const readBatch = 1024

// readExported reads the last message of every subject of layer in
// FED_OUT_<peer>.
func (s *Service) readExported(ctx context.Context, peer, layer string) (exported, error) {
	ex := exported{docs: map[string]map[string]mark{}, drops: map[string]uint64{}}
	prefix := subject.FederationOut(s.o.Domain, peer) + "." + layer + "."
	cons, err := s.js.CreateConsumer(ctx, StreamOut(peer), jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		FilterSubject:     prefix + ">",
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		Description:       "start-up reconciliation of the export of " + layer,
	})
	if err != nil {
		return ex, fmt.Errorf("read what %s holds of %s: %w", StreamOut(peer), layer, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.js.DeleteConsumer(dctx, StreamOut(peer), cons.CachedInfo().Name)
	}()
	left := cons.CachedInfo().NumPending
	for left > 0 {
		batch, err := cons.Fetch(readBatch, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return ex, fmt.Errorf("read %s: %w", StreamOut(peer), err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return ex, fmt.Errorf("read %s: message metadata: %w", StreamOut(peer), err)
			}
			left = meta.NumPending
			ex.add(strings.TrimPrefix(msg.Subject(), prefix), meta.Sequence.Stream, msg.Data())
			if left == 0 {
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return ex, fmt.Errorf("read %s: %w", StreamOut(peer), err)
		}
		if got == 0 {
			return ex, fmt.Errorf("read %s: %d messages announced did not come", StreamOut(peer), left)
		}
	}
	return ex, nil
}

// add records the last message of one subject (rest: the subject after
// the layer's prefix).
func (ex exported) add(rest string, seq uint64, data []byte) {
	toks := strings.Split(rest, ".")
	switch {
	case len(toks) == 2 && toks[1] == "drop":
		ex.drops[toks[0]] = max(ex.drops[toks[0]], seq)
		return
	case len(toks) == 1:
		// before one subject per document: only a drop counts
		if c, err := Unmarshal(data); err == nil && c.Op == OpDrop {
			ex.drops[toks[0]] = max(ex.drops[toks[0]], seq)
		}
		return
	case len(toks) != 3 || toks[1] != "d":
		return
	}
	idb, err := base64.RawURLEncoding.DecodeString(toks[2])
	if err != nil {
		return
	}
	c, err := Unmarshal(data)
	if err != nil || c.ID != string(idb) {
		return
	}
	m := mark{seq: seq, op: c.Op}
	if c.Op == OpPut {
		if m.doc, err = canonical(c.Doc); err != nil {
			return
		}
	}
	col := toks[0]
	if ex.docs[col] == nil {
		ex.docs[col] = map[string]mark{}
	}
	ex.docs[col][string(idb)] = m
}
