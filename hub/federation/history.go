package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// Past history. An importer has the changes made since it started
// importing; the exporter also sends, once per (peer, layer), the history
// its hub holds of the exported collections for the last History.Since,
// through FED_OUT like the changes (op "history", subject
// <prefix>.<layer>.<collection>.h), in chunks of up to historyChunk
// points. Its progress — the collection and the last document whose
// history was sent and acknowledged by JetStream — is kept in the peer's
// status document (history_sent), so a restart resumes after it (the
// document in flight is sent again). The importer appends the points to its
// history store; an identical point is stored once.

// DefaultHistorySince is how much past history is sent by default: the
// history's default out-of-order window, beyond which the importing hub's
// embedded history refuses points.
const DefaultHistorySince = history.DefaultOutOfOrderWindow

// historyChunk is how many points one history message carries at most.
const historyChunk = 2000

// markEvery is how often the exporter records its history progress.
const markEvery = time.Second

// HistoryExport configures the past history sent to a peer.
type HistoryExport struct {
	// Since bounds the past history sent (default 168h, the history's
	// default out-of-order window: older points would be refused by the
	// peer's embedded history unless its outOfOrderWindow is raised).
	Since config.Duration `json:"since,omitempty"`
	// Off sends no past history.
	Off bool `json:"off,omitempty"`
}

// HistoryPoint is one point of past history in a change of op "history".
type HistoryPoint struct {
	// ID is the document's _id.
	ID string `json:"id"`
	// Field is the field path.
	Field string `json:"f"`
	// T is the time in milliseconds since the Unix epoch.
	T int64 `json:"t"`
	// V is the value: a number, a string (a state) or null.
	V any `json:"v"`
	// Q is the quality code.
	Q int `json:"q"`
}

// historyMark is how far the past history of a layer was sent to a peer.
type historyMark struct {
	done       bool
	collection string // the collection being sent
	after      string // its last document sent completely
}

// historySince returns how much past history p gets (0: none).
func historySince(p Peer) time.Duration {
	if p.History == nil {
		return DefaultHistorySince
	}
	if p.History.Off {
		return 0
	}
	return p.History.Since.Or(DefaultHistorySince)
}

// runHistory sends the past history of every layer exported to p that was
// not sent yet.
func (s *Service) runHistory(ctx context.Context, p Peer) error {
	since := historySince(p)
	if since == 0 || s.o.History == nil {
		return nil
	}
	if err := s.loadHistoryMarks(ctx, p.Name); err != nil {
		return err
	}
	js, err := jetstream.New(s.o.NC, jetstream.WithPublishAsyncMaxPending(64))
	if err != nil {
		return fmt.Errorf("federation: jetstream: %w", err)
	}
	for _, g := range p.Export {
		if slices.Contains(s.exportOrigin(g.Layer), p.Name) {
			continue // never sent back
		}
		s.mu.Lock()
		m := s.peer(p.Name).history[g.Layer]
		s.mu.Unlock()
		if m.done {
			continue
		}
		if err := s.sendHistory(ctx, js, p.Name, g, since, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.fail(p.Name, fmt.Errorf("send the past history of %s: %w", g, err))
			continue
		}
		s.log.Info("federation: past history sent", "peer", p.Name, "layer", g.Layer)
	}
	return nil
}

// sendHistory sends the history of one exported layer from mark m on.
func (s *Service) sendHistory(ctx context.Context, js jetstream.JetStream, peer string, g Grant, since time.Duration, m historyMark) error {
	cols := slices.Clone(g.Collections)
	if len(cols) == 0 {
		l, err := s.o.Store.Layer(ctx, g.Layer)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read layer %q: %w", g.Layer, err)
		}
		if l != nil {
			for _, c := range l.Collections {
				cols = append(cols, c.Name)
			}
		}
	}
	slices.Sort(cols)
	to := time.Now().UTC()
	from := to.Add(-since)
	origin := s.exportOrigin(g.Layer)
	for _, col := range cols {
		if m.collection != "" && col < m.collection {
			continue
		}
		after := ""
		if col == m.collection {
			after = m.after
		}
		var chunk []HistoryPoint
		var futures []jetstream.PubAckFuture
		flush := func() error {
			if len(chunk) == 0 {
				return nil
			}
			fc := &Change{Origin: origin, Op: OpHistory, Layer: g.Layer, Collection: col, History: chunk, At: time.Now().UTC()}
			data, err := fc.Marshal()
			if err != nil {
				return err
			}
			if err := s.historyRoom(ctx, peer, len(data)); err != nil {
				return err
			}
			subj := subject.FederationOut(s.o.Domain, peer) + "." + g.Layer + "." + col + ".h"
			f, err := js.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data})
			if err != nil {
				return fmt.Errorf("export the history of %s/%s: %w", g.Layer, col, err)
			}
			futures = append(futures, f)
			s.mu.Lock()
			s.peer(peer).historySent += uint64(len(chunk))
			s.mu.Unlock()
			chunk = nil
			return nil
		}
		// mark records that every document up to id was sent and stored
		mark := func(id string) error {
			if err := flush(); err != nil {
				return err
			}
			if err := acks(ctx, futures); err != nil {
				return err
			}
			futures = nil
			return s.saveHistoryMark(ctx, peer, g.Layer, historyMark{collection: col, after: id})
		}
		last, lastMark := "", time.Now()
		err := s.o.History.Select(ctx, history.Query{Layer: g.Layer, Collection: col, From: from, To: to}, func(sr history.Series) error {
			if sr.ID <= after {
				return nil
			}
			if sr.ID != last && last != "" && time.Since(lastMark) > markEvery {
				if err := mark(last); err != nil {
					return err
				}
				lastMark = time.Now()
			}
			last = sr.ID
			for p := range sr.Points {
				chunk = append(chunk, HistoryPoint{ID: sr.ID, Field: sr.Field, T: p.T, V: p.Value(), Q: p.Q})
				if len(chunk) >= historyChunk {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read the history of %s/%s: %w", g.Layer, col, err)
		}
		if last == "" {
			last = after // nothing more in this collection
		}
		if err := mark(last); err != nil {
			return err
		}
		m = historyMark{}
	}
	return s.saveHistoryMark(ctx, peer, g.Layer, historyMark{done: true})
}

// errHistoryBudget stops the past history before it fills FED_OUT.
var errHistoryBudget = errors.New("past history stopped")

// historyRoom checks that FED_OUT_<peer> keeps half of its MaxBytes for
// changes with n more bytes of history: FED_OUT discards its oldest
// messages when full, which could be changes the peer has not taken yet.
func (s *Service) historyRoom(ctx context.Context, peer string, n int) error {
	str, err := s.js.Stream(ctx, StreamOut(peer))
	if err != nil {
		return fmt.Errorf("read %s: %w", StreamOut(peer), err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", StreamOut(peer), err)
	}
	if limit := uint64(s.o.MaxBytes / 2); info.State.Bytes+uint64(n) > limit {
		return fmt.Errorf("%w: %s would hold more than %d bytes, half of its limit, which is kept for changes (lower history.since; it resumes at the next start)",
			errHistoryBudget, StreamOut(peer), limit)
	}
	return nil
}

// acks waits for JetStream's acknowledgement of every message published.
func acks(ctx context.Context, fs []jetstream.PubAckFuture) error {
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for _, f := range fs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("history message not stored: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return errors.New("history messages not acknowledged within 30 s")
		}
	}
	return nil
}

// saveHistoryMark records the progress of a layer's history in the peer's
// status document.
func (s *Service) saveHistoryMark(ctx context.Context, peer, layer string, m historyMark) error {
	s.mu.Lock()
	s.peer(peer).history[layer] = m
	marks := map[string]any{}
	for l, hm := range s.peer(peer).history {
		marks[l] = map[string]any{"done": hm.done, "collection": hm.collection, "after": hm.after}
	}
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	res, err := s.o.Store.Bulk(wctx, StatusLayer, StatusCollection, []store.Document{{"_id": peer, "history_sent": marks}}, false)
	if err == nil && res.Err > 0 {
		err = errors.New(res.Errors[0])
	}
	if err != nil {
		return fmt.Errorf("federation: record the history sent to %q: %w", peer, err)
	}
	return nil
}

// loadHistoryMarks reads the history progress of a peer.
func (s *Service) loadHistoryMarks(ctx context.Context, peer string) error {
	doc, err := s.o.Store.Get(ctx, StatusLayer, StatusCollection, peer)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("federation: read the status of peer %q: %w", peer, err)
	}
	marks, _ := doc["history_sent"].(map[string]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	for l, v := range marks {
		mm, _ := v.(map[string]any)
		var m historyMark
		m.done, _ = mm["done"].(bool)
		m.collection, _ = mm["collection"].(string)
		m.after, _ = mm["after"].(string)
		s.peer(peer).history[l] = m
	}
	return nil
}

// appendHistory appends the points of history changes to the importing
// hub's history, under the local layer.
func (s *Service) appendHistory(ctx context.Context, peer string, ws []work) error {
	if len(ws) == 0 {
		return nil
	}
	if s.o.History == nil {
		s.mu.Lock()
		for _, w := range ws {
			s.peer(peer).historyRefused += uint64(len(w.History))
		}
		s.mu.Unlock()
		return nil
	}
	var samples []history.Sample
	for _, w := range ws {
		for _, p := range w.History {
			samples = append(samples, history.Sample{Layer: w.local, Collection: w.Collection, ID: p.ID, Field: p.Field,
				T: time.UnixMilli(p.T).UTC(), Value: p.V, Quality: p.Q})
		}
	}
	res, err := s.o.History.Append(ctx, samples)
	if err != nil {
		return fmt.Errorf("federation: append %d points of past history: %w", len(samples), err)
	}
	s.mu.Lock()
	ps := s.peer(peer)
	ps.historyWritten += uint64(res.Written + res.Unchanged)
	ps.historyRefused += uint64(res.Refused)
	s.mu.Unlock()
	if res.Refused > 0 {
		s.fail(peer, fmt.Errorf("%d points of past history refused by the history: %s", res.Refused, res.FirstRefusal))
	}
	return nil
}
