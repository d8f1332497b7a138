package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// StatusLayer and StatusCollection hold one status document per peer
// (system/federation/<peer>), which also keeps the importing side's
// high-water mark.
const (
	StatusLayer      = fleet.Layer
	StatusCollection = "federation"
)

// Options configure the federation service.
type Options struct {
	// Domain is this deployment's domain (and JetStream domain).
	Domain string
	// Config is the federation section.
	Config Config
	// NC is an in-process connection of the hub.
	NC *nats.Conn
	// Store is the hub's store without the ReadOnly decorator: the
	// importer writes the imported layers through it.
	Store store.Store
	// Changes, when set, announces every imported write on the change feed
	// (DDP, services, and re-export to further peers).
	Changes func(store.Change)
	// LinkUp, when set, reports whether the leaf-node link this hub opened
	// to a URL is up.
	LinkUp func(url string) bool
	// LeafInterest, when set, reports whether a leaf-node link accepted by
	// this hub subscribes under a subject prefix: the link of a peer that
	// sources its stream over a link it opened is up while it subscribes to
	// its delivery subject (sourcing consumers are not listed by the
	// JetStream API).
	LeafInterest func(prefix string) bool
	// DirectDelivered, when set, returns the last sequence delivered by
	// each direct consumer of a stream (a peer's sourcing of FED_OUT,
	// which the JetStream API does not list): the export backlog.
	DirectDelivered func(stream string) ([]uint64, bool)
	// History, when set, is the hub's history: the exporter reads the
	// past history of exported layers from it, the importer appends the
	// past history it receives to it.
	History HistoryStore
	// MaxBytes bounds each FED_OUT and FED_IN stream (default 1 GiB).
	MaxBytes int64
	// Logger receives events.
	Logger *slog.Logger
}

// HistoryStore is what federation uses of the hub's history.
type HistoryStore interface {
	history.Appender
	history.Reader
}

// Service runs the exporters and importers of every peer.
type Service struct {
	o   Options
	js  jetstream.JetStream
	log *slog.Logger

	mu       sync.Mutex
	peers    map[string]*peerState
	imported map[string]string   // local layer → peer
	origins  map[string][]string // imported local layer → origin of its last change

	feed *nats.Subscription  // the change feed, read by the exporter
	ejs  jetstream.JetStream // the exporter's asynchronous publishing
}

// peerState is what is known of one peer, for its status document.
type peerState struct {
	cfg        Peer
	exported   uint64
	skipped    uint64 // changes not sent: they came from the peer
	reconciled uint64 // changes exported by the start-up reconciliation
	unchanged  uint64 // received puts equal to the document here: not written
	looped     uint64 // received changes that had passed through here
	refused    uint64 // received changes outside the import policy
	applied    uint64
	failed     uint64
	hwm        uint64
	pending    uint64
	exportLag  uint64
	link       string
	lastErr    string
	lastErrAt  time.Time
	perLayer   map[string]*LayerStatus
	hwmLoaded  bool

	history        map[string]historyMark // exported layer → past history sent
	historySent    uint64                 // points of past history exported
	historyWritten uint64                 // points of past history imported and stored
	historyRefused uint64                 // points of past history imported and refused
}

// LayerStatus is the state of one imported layer.
type LayerStatus struct {
	// From is the peer's layer.
	From string `json:"from"`
	// Applied counts changes applied.
	Applied uint64 `json:"applied"`
	// LastApplied is when the last change was applied.
	LastApplied time.Time `json:"last_applied,omitzero"`
	// LagMillis is the time from export at the peer to apply here of the
	// last change.
	LagMillis int64 `json:"lag_ms"`
}

// PeerStatus is the status of one peer (the system/federation document).
type PeerStatus struct {
	// Peer is the peer's name.
	Peer string `json:"peer"`
	// Link is "up", "down" or "unknown".
	Link string `json:"link"`
	// Exported counts changes put into FED_OUT_<peer>.
	Exported uint64 `json:"exported"`
	// ExportPending counts exported changes the peer has not taken yet.
	ExportPending uint64 `json:"export_pending"`
	// NotSentBack counts changes not exported because they came from the peer.
	NotSentBack uint64 `json:"not_sent_back"`
	// Reconciled counts the changes exported since the start by the
	// start-up reconciliation (committed here, never read from the change
	// feed); they are part of Exported.
	Reconciled uint64 `json:"reconciled"`
	// Applied counts imported changes applied.
	Applied uint64 `json:"applied"`
	// Unchanged counts imported puts equal to the document here, not
	// written again (part of Applied).
	Unchanged uint64 `json:"unchanged"`
	// Pending counts changes received and not applied yet.
	Pending uint64 `json:"pending"`
	// Looped counts received changes dropped because they had passed
	// through this deployment.
	Looped uint64 `json:"looped"`
	// Refused counts received changes outside the import policy.
	Refused uint64 `json:"refused"`
	// Failed counts changes that could not be applied.
	Failed uint64 `json:"failed"`
	// AppliedSeq is the importer's high-water mark (FED_IN_<peer> sequence).
	AppliedSeq uint64 `json:"applied_seq"`
	// Imports are the imported layers by local name.
	Imports map[string]LayerStatus `json:"imports,omitempty"`
	// HistorySent counts the points of past history exported since the
	// start; HistoryImported and HistoryRefused those received and stored,
	// or refused by the history (older than its out-of-order window).
	HistorySent uint64 `json:"history_sent_points"`
	// HistoryImported: see HistorySent.
	HistoryImported uint64 `json:"history_imported_points"`
	// HistoryRefused: see HistorySent.
	HistoryRefused uint64 `json:"history_refused_points"`
	// LastError is the last error, and LastErrorAt when it happened.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt: see LastError.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// New creates the streams of every peer.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	js, err := jetstream.New(o.NC)
	if err != nil {
		return nil, fmt.Errorf("federation: jetstream: %w", err)
	}
	s := &Service{o: o, js: js, log: o.Logger, peers: map[string]*peerState{}, origins: map[string][]string{},
		imported: o.Config.Imported()}
	for _, p := range o.Config.Peers {
		s.peers[p.Name] = &peerState{cfg: p, link: "unknown", perLayer: map[string]*LayerStatus{}, history: map[string]historyMark{}}
		if len(p.Export) > 0 {
			_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name:        StreamOut(p.Name),
				Description: "changes of the layers exported to deployment " + p.Name,
				Subjects:    []string{subject.FederationOut(o.Domain, p.Name) + ".>"},
				Storage:     jetstream.FileStorage,
				MaxBytes:    o.MaxBytes,
				MaxAge:      7 * 24 * time.Hour,
			})
			if err != nil {
				return nil, fmt.Errorf("federation: create stream %s: %w", StreamOut(p.Name), err)
			}
		}
		if len(p.Import) > 0 {
			s.awaitLink(ctx, p)
			transforms := inTransforms(subject.FederationOut(p.Name, o.Domain))
			if keepUntransformed(ctx, js, StreamIn(p.Name)) {
				transforms = nil
			}
			_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name:        StreamIn(p.Name),
				Description: "changes imported from deployment " + p.Name,
				Storage:     jetstream.FileStorage,
				MaxBytes:    o.MaxBytes,
				MaxAge:      7 * 24 * time.Hour,
				Sources: []*jetstream.StreamSource{{
					Name:              StreamOut(o.Domain),
					SubjectTransforms: transforms,
					External: &jetstream.ExternalStream{
						APIPrefix:     subject.JetStreamAPI(p.Name),
						DeliverPrefix: subject.FederationDeliver(p.Name, o.Domain),
					},
				}},
			})
			if err != nil {
				return nil, fmt.Errorf("federation: create stream %s: %w", StreamIn(p.Name), err)
			}
		}
	}
	if err := fleet.EnsureLayer(ctx, o.Store, StatusCollection); err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	if s.exporting() {
		// the origins of the imported layers, which the reconciliation
		// needs to export their changes as the feed's would be
		for _, p := range o.Config.Peers {
			if len(p.Import) > 0 {
				if err := s.loadStatus(ctx, p.Name); err != nil {
					return nil, err
				}
			}
		}
		if err := s.startExport(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// inTransforms are the subject transforms of FED_IN's source: a
// document's subject (<out>.<layer>.<collection>.d.<id>) loses its id, so
// that FED_IN does not index one subject per document (which the exporter
// needs in FED_OUT, for its start-up reconciliation, and which cost the
// importer about a third of its throughput); the other subjects (.drop,
// .h, and those of before one subject per document) are kept. The three
// patterns are disjoint (4, 3 and 2 tokens after out).
func inTransforms(out string) []jetstream.SubjectTransformConfig {
	return []jetstream.SubjectTransformConfig{
		{Source: out + ".*.*.d.*", Destination: out + ".{{wildcard(1)}}.{{wildcard(2)}}"},
		{Source: out + ".*.*.*", Destination: out + ".{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}"},
		{Source: out + ".*.*", Destination: out + ".{{wildcard(1)}}.{{wildcard(2)}}"},
	}
}

// linkWait bounds how long New waits for a link it opens before sourcing
// over it.
const linkWait = 5 * time.Second

// awaitLink waits (at most linkWait) for the link this hub opens to p to
// be up: sourcing FED_IN over a link not up yet fails, and JetStream
// retries a failed source only after 10 s (then 20 s, … up to 2 minutes).
func (s *Service) awaitLink(ctx context.Context, p Peer) {
	if p.URL == "" || s.o.LinkUp == nil {
		return
	}
	deadline := time.Now().Add(linkWait)
	for !s.o.LinkUp(p.URL) && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 20*time.Millisecond)
	}
}

// keepUntransformed reports whether FED_IN_<peer> exists with a source
// without subject transforms (made before they were added). Changing a
// source's transforms while the stream runs made JetStream (nats-server
// 2.15.2) source the peer's stream again from its start — every change of
// the last 7 days applied again, in order, documents going back to older
// states on the way; at a restart it did not, but that is not documented
// behaviour — so such a stream keeps its source as it is, and its
// per-document subjects.
func keepUntransformed(ctx context.Context, js jetstream.JetStream, name string) bool {
	str, err := js.Stream(ctx, name)
	if err != nil {
		return false
	}
	srcs := str.CachedInfo().Config.Sources
	return len(srcs) == 1 && len(srcs[0].SubjectTransforms) == 0
}

// Imported returns the imported layers: local layer → peer.
func (c Config) Imported() map[string]string {
	m := map[string]string{}
	for _, p := range c.Peers {
		for _, im := range p.Import {
			m[im.Local()] = p.Name
		}
	}
	return m
}

// Run exports, imports and records the status until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1+len(s.o.Config.Peers))
	for _, p := range s.o.Config.Peers {
		if len(p.Export) > 0 && s.o.History != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.runHistory(ctx, p); err != nil {
					s.fail(p.Name, err)
				}
			}()
		}
		if len(p.Import) > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.runImport(ctx, p); err != nil {
					errc <- err
				}
			}()
		}
	}
	if s.feed != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.runExport(ctx); err != nil {
				errc <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, p := range s.o.Config.Peers {
					if err := s.writeStatus(ctx, p.Name, true); err != nil && ctx.Err() == nil {
						s.log.Warn("federation: status not recorded", "err", err)
					}
				}
			}
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	return err
}

// exporting reports whether any peer exports a layer.
func (s *Service) exporting() bool {
	return slices.ContainsFunc(s.o.Config.Peers, func(p Peer) bool { return len(p.Export) > 0 })
}

func (s *Service) peer(name string) *peerState { return s.peers[name] }

// fail records an error of a peer.
func (s *Service) fail(peer string, err error) {
	s.mu.Lock()
	p := s.peer(peer)
	p.lastErr, p.lastErrAt = err.Error(), time.Now().UTC()
	s.mu.Unlock()
	s.log.Warn("federation", "peer", peer, "err", err)
}

// Status returns the status of a peer.
func (s *Service) Status(peer string) (PeerStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[peer]
	if p == nil {
		return PeerStatus{}, false
	}
	st := PeerStatus{Peer: peer, Link: p.link, Exported: p.exported, ExportPending: p.exportLag, NotSentBack: p.skipped,
		Reconciled: p.reconciled, Applied: p.applied, Unchanged: p.unchanged, Pending: p.pending, Looped: p.looped, Refused: p.refused, Failed: p.failed,
		AppliedSeq: p.hwm, HistorySent: p.historySent, HistoryImported: p.historyWritten, HistoryRefused: p.historyRefused,
		LastError: p.lastErr, LastErrorAt: p.lastErrAt}
	if len(p.perLayer) > 0 {
		st.Imports = map[string]LayerStatus{}
		for k, v := range p.perLayer {
			st.Imports[k] = *v
		}
	}
	return st, true
}

// refreshLink updates a peer's link state and lags from the streams.
func (s *Service) refreshLink(ctx context.Context, name string) {
	s.mu.Lock()
	cfg := s.peer(name).cfg
	hwm := s.peer(name).hwm
	s.mu.Unlock()
	link := "unknown"
	var exportLag, pending uint64
	var lastErr error
	if len(cfg.Export) > 0 {
		if str, err := s.js.Stream(ctx, StreamOut(name)); err == nil {
			info, err := str.Info(ctx)
			if err == nil {
				// the peer's sourcing consumer exists while its link is up
				// (it is removed after a short inactivity); the JetStream
				// API does not list it (a direct consumer) but the peer's
				// leaf connection subscribes to its delivery subject
				link = "down"
				for ci := range str.ListConsumers(ctx).Info() {
					link = "up"
					if d := ci.Delivered.Stream; info.State.LastSeq > d {
						exportLag = max(exportLag, info.State.LastSeq-d)
					}
				}
				if s.o.LeafInterest != nil && s.o.LeafInterest(subject.FederationDeliver(s.o.Domain, name)+".") {
					link = "up"
				}
				if s.o.DirectDelivered != nil {
					if ds, ok := s.o.DirectDelivered(StreamOut(name)); ok {
						for _, d := range ds {
							if info.State.LastSeq > d {
								exportLag = max(exportLag, info.State.LastSeq-d)
							}
						}
					}
				}
			}
		}
	}
	if len(cfg.Import) > 0 {
		if str, err := s.js.Stream(ctx, StreamIn(name)); err == nil {
			if info, err := str.Info(ctx); err == nil {
				if info.State.LastSeq > hwm {
					pending = info.State.LastSeq - hwm
				}
				for _, si := range info.Sources {
					pending += si.Lag
					if si.Error != nil {
						lastErr = fmt.Errorf("source %s: %s", si.Name, si.Error.Description)
					}
					if si.Active >= 0 && si.Active < 10*time.Second {
						link = "up"
					} else if link != "up" {
						link = "down"
					}
				}
			}
		}
	}
	if cfg.URL != "" && s.o.LinkUp != nil {
		link = "down"
		if s.o.LinkUp(cfg.URL) {
			link = "up"
		}
	}
	s.mu.Lock()
	p := s.peer(name)
	p.link, p.exportLag, p.pending = link, exportLag, pending
	s.mu.Unlock()
	if lastErr != nil {
		s.fail(name, lastErr)
	}
}

// writeStatus stores system/federation/<peer>, with the link state and
// lags refreshed from the streams first when refresh is set.
func (s *Service) writeStatus(ctx context.Context, name string, refresh bool) error {
	if refresh {
		s.refreshLink(ctx, name)
	}
	st, _ := s.Status(name)
	doc := store.Document{
		"_id": name, "peer": st.Peer, "link": st.Link, "exported": float64(st.Exported),
		"export_pending": float64(st.ExportPending), "not_sent_back": float64(st.NotSentBack),
		"reconciled": float64(st.Reconciled), "applied": float64(st.Applied), "unchanged": float64(st.Unchanged),
		"pending": float64(st.Pending), "looped": float64(st.Looped),
		"refused": float64(st.Refused), "failed": float64(st.Failed), "applied_seq": float64(st.AppliedSeq),
		"history_sent_points": float64(st.HistorySent), "history_imported_points": float64(st.HistoryImported),
		"history_refused_points": float64(st.HistoryRefused),
		"last_error":             st.LastError, "updated": time.Now().UTC(),
	}
	if !st.LastErrorAt.IsZero() {
		doc["last_error_at"] = st.LastErrorAt
	}
	imports := map[string]any{}
	for k, v := range st.Imports {
		m := map[string]any{"from": v.From, "applied": float64(v.Applied), "lag_ms": float64(v.LagMillis)}
		if !v.LastApplied.IsZero() {
			m["last_applied"] = v.LastApplied
		}
		if o := s.origin(k); len(o) > 0 {
			m["origin"] = anySlice(o)
		}
		imports[k] = m
	}
	doc["imports"] = imports
	res, err := s.o.Store.Bulk(ctx, StatusLayer, StatusCollection, []store.Document{doc}, false)
	if err == nil && res.Err > 0 {
		err = errors.New(res.Errors[0])
	}
	if err != nil {
		return fmt.Errorf("federation: write the status of peer %q: %w", name, err)
	}
	return nil
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (s *Service) origin(layer string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.origins[layer])
}

// loadStatus reads the persisted high-water mark and origins of a peer.
func (s *Service) loadStatus(ctx context.Context, name string) error {
	doc, err := s.o.Store.Get(ctx, StatusLayer, StatusCollection, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("federation: read the status of peer %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peer(name)
	if f, ok := doc["applied_seq"].(float64); ok {
		p.hwm = uint64(f)
	}
	if f, ok := doc["applied"].(float64); ok {
		p.applied = uint64(f)
	}
	if imps, ok := doc["imports"].(map[string]any); ok {
		for local, v := range imps {
			m, _ := v.(map[string]any)
			ls := &LayerStatus{}
			ls.From, _ = m["from"].(string)
			if f, ok := m["applied"].(float64); ok {
				ls.Applied = uint64(f)
			}
			p.perLayer[local] = ls
			if o, ok := m["origin"].([]any); ok {
				var chain []string
				for _, x := range o {
					if str, ok := x.(string); ok {
						chain = append(chain, str)
					}
				}
				s.origins[local] = chain
			}
		}
	}
	p.hwmLoaded = true
	return nil
}
