package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// startExport subscribes to the change feed, then exports what the
// feed missed before (reconcile); runExport follows the feed from there, so
// a change made during the reconciliation is exported after it.
func (s *Service) startExport(ctx context.Context) error {
	sub, err := s.o.NC.SubscribeSync(subject.StorageChangedAll(s.o.Domain))
	if err != nil {
		return fmt.Errorf("federation: subscribe to the change feed: %w", err)
	}
	// a burst of writes waits here rather than being dropped
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("federation: change feed subscription: %w", err)
	}
	js, err := jetstream.New(s.o.NC, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("federation: jetstream: %w", err)
	}
	s.feed, s.ejs = sub, js
	s.reconcile(ctx, js)
	return nil
}

// runExport reads the change feed and puts the changes of exported layers,
// with the documents' content, into each peer's FED_OUT stream, in the
// order of the feed.
func (s *Service) runExport(ctx context.Context) error {
	sub, js := s.feed, s.ejs
	defer sub.Unsubscribe()
	gaps, checked := s.feedGaps(sub), time.Now()
	check := func() {
		checked = time.Now()
		if g := s.feedGaps(sub); g != gaps {
			// the connection was re-established (events published
			// meanwhile, by this hub or another replica, were not
			// received) or events were dropped: compare again
			s.log.Warn("federation: the change feed had a gap; reconciling the exported layers", "reconnects", g.reconnects, "dropped", g.dropped)
			gaps = g
			s.reconcile(ctx, js)
		}
	}
	for {
		// an idle feed is a moment to look for a gap in it
		wait := ctx
		cancel := context.CancelFunc(func() {})
		if n, _, _ := sub.Pending(); n == 0 {
			wait, cancel = context.WithTimeout(ctx, gapCheckEvery)
		}
		msg, err := sub.NextMsgWithContext(wait)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, context.DeadlineExceeded) {
			check()
			continue
		}
		if err != nil {
			return fmt.Errorf("federation: read the change feed: %w", err)
		}
		var c store.Change
		if err := json.Unmarshal(msg.Data, &c); err != nil {
			s.log.Warn("federation: bad change event", "subject", msg.Subject, "err", err)
			continue
		}
		s.export(ctx, js, c)
		if time.Since(checked) > gapCheckEvery {
			check() // a busy feed is never idle
		}
		// bound the acknowledgements in flight; wait for them when the
		// feed is idle, so an error is seen soon
		if sub.IsValid() {
			if n, _, _ := sub.Pending(); n == 0 {
				s.waitAcks(ctx, js)
			}
		}
	}
}

// gapCheckEvery is how long the change feed stays idle before the exporter
// looks for a gap in it.
const gapCheckEvery = time.Second

// gapSignals are the counters whose change means the change feed may have
// missed events.
type gapSignals struct {
	reconnects uint64 // of the hub's connection
	dropped    int    // events dropped by the subscription
}

func (s *Service) feedGaps(sub *nats.Subscription) gapSignals {
	d, _ := sub.Dropped()
	return gapSignals{reconnects: s.o.NC.Stats().Reconnects, dropped: d}
}

func (s *Service) waitAcks(ctx context.Context, js jetstream.JetStream) {
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

// export sends one change to every peer whose export policy covers it.
func (s *Service) export(ctx context.Context, js jetstream.JetStream, c store.Change) {
	var fc *Change // built once, for the first peer that takes it
	origin := s.exportOrigin(c.Layer)
	for _, p := range s.o.Config.Peers {
		if !exports(p.Export, c.Layer, c.Collection) {
			continue
		}
		if slices.Contains(origin, p.Name) {
			s.mu.Lock()
			s.peer(p.Name).skipped++
			s.mu.Unlock()
			continue
		}
		if fc == nil {
			var err error
			if fc, err = s.build(ctx, c, origin); err != nil {
				s.fail(p.Name, err)
				return
			}
		}
		data, err := fc.Marshal()
		if err != nil {
			s.fail(p.Name, err)
			continue
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: s.outSubject(p.Name, fc), Data: data}); err != nil {
			s.fail(p.Name, fmt.Errorf("export %s/%s/%s: %w", c.Layer, c.Collection, c.ID, err))
			continue
		}
		s.mu.Lock()
		s.peer(p.Name).exported++
		s.mu.Unlock()
	}
}

// exportOrigin is the origin of a change of layer made or applied here:
// this deployment, after the deployments an imported layer's changes came
// through (before anything was imported since the start: the peer it
// comes from).
func (s *Service) exportOrigin(layer string) []string {
	from, ok := s.imported[layer]
	if !ok {
		return []string{s.o.Domain}
	}
	o := s.origin(layer)
	if len(o) == 0 {
		o = []string{from}
	}
	return append(o, s.o.Domain)
}

// outSubject is the FED_OUT subject of a change: one subject per document
// (<prefix>.<layer>.<collection>.d.<id in base64url>), so that the stream
// keeps the last state exported of each document, which the start-up
// reconciliation compares with the store; a drop goes to
// <prefix>.<layer>.<collection>.drop.
func (s *Service) outSubject(peer string, c *Change) string {
	base := subject.FederationOut(s.o.Domain, peer) + "." + c.Layer + "." + c.Collection
	if c.Op == OpDrop {
		return base + ".drop"
	}
	return base + ".d." + base64.RawURLEncoding.EncodeToString([]byte(c.ID))
}

// build turns a change event into a federated change with the document.
func (s *Service) build(ctx context.Context, c store.Change, origin []string) (*Change, error) {
	fc := &Change{Origin: origin, Layer: c.Layer, Collection: c.Collection, ID: c.ID, At: time.Now().UTC()}
	switch c.Op {
	case store.OpInsert, store.OpUpdate:
		doc, err := s.o.Store.Get(ctx, c.Layer, c.Collection, c.ID)
		if errors.Is(err, store.ErrNotFound) {
			fc.Op = OpDelete // removed since
			return fc, nil
		}
		if err != nil {
			return nil, fmt.Errorf("federation: read %s/%s/%s to export it: %w", c.Layer, c.Collection, c.ID, err)
		}
		delete(doc, store.FieldUpdated)
		fc.Op, fc.Doc = OpPut, doc
	case store.OpDelete:
		fc.Op = OpDelete
	case store.OpDrop:
		fc.Op, fc.ID = OpDrop, ""
	default:
		return nil, fmt.Errorf("federation: change event with unknown op %q", c.Op)
	}
	return fc, nil
}

// exports reports whether the grants cover layer/collection.
func exports(gs []Grant, layer, col string) bool {
	for _, g := range gs {
		if g.Layer == layer && g.allows(col) {
			return true
		}
	}
	return false
}
