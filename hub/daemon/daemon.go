// Package daemon wires the hub: store, embedded NATS with JetStream and the
// leaf-node listener, the ingest applier and the REST API.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/console"
	"github.com/gridedge/gridedge/hub/ddp"
	"github.com/gridedge/gridedge/hub/federation"
	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/hub/forecast"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/iot"
	"github.com/gridedge/gridedge/hub/metrics"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/hub/store/mongo"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/version"
)

// Hub is a running hub.
type Hub struct {
	cfg     *Config
	log     *slog.Logger
	st      store.Store
	hist    history.Store
	rec     *history.Recorder
	br      *broker.Broker
	nc      *nats.Conn
	applier *ingest.Applier
	auth    *auth.Service
	httpSrv *http.Server
	ddp     *ddp.Server
	httpLn  net.Listener
	fc      *forecast.Service
	fcNATS  *forecast.NATS
	hNATS   *history.Responder
	metrics *metrics.Metrics
	svc     services
	iot     *iot.Service
	// fed runs the federation; fedStore is the store without the
	// read-only imported layers (federation.go)
	fed      *federation.Service
	fedStore store.Store

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// Start starts a hub; stop it with Close.
func Start(ctx context.Context, cfg *Config, log *slog.Logger) (_ *Hub, err error) {
	h := &Hub{cfg: cfg, log: log, errc: make(chan error, 3)}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if h.st, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if h.hist, err = openHistory(ctx, cfg, h.st, log); err != nil {
		return nil, err
	}
	// every measurement write (edge batches, REST and NATS writes) enters
	// the history here
	h.rec = history.NewRecorder(h.st, h.hist, log)
	h.st = h.rec
	wrapFederation(h)
	for _, l := range cfg.Layers {
		if _, err := h.st.Layer(ctx, l.ID); errors.Is(err, store.ErrNotFound) {
			if err := h.st.PutLayer(ctx, l); err != nil {
				return nil, fmt.Errorf("create layer %q from the config: %w", l.ID, err)
			}
			log.Info("created layer from the config", "layer", l.ID)
		} else if err != nil {
			return nil, err
		}
	}
	if err := startAuth(ctx, h); err != nil {
		return nil, err
	}
	bo := broker.Options{
		Domain: cfg.Domain, ServerName: cfg.NATS.ServerName, ClientListen: cfg.NATS.Listen.HostPort(),
		LeafListen: cfg.NATS.LeafListen.HostPort(), StoreDir: filepath.Join(cfg.DataDir, "jetstream"),
		Edges: credentials(cfg.Edges), Users: cfg.NATS.Users, Logger: log,
		ClientTLS: cfg.NATS.TLS, LeafTLS: cfg.NATS.LeafTLS, RequireTLS: cfg.NATS.RequireTLS,
		Cluster: cfg.brokerCluster(), Gateway: cfg.brokerGateway(),
	}
	bo.JetStreamDomain, bo.LeafPeers, bo.LeafRemotes = cfg.brokerFederation()
	if cfg.NATS.External != nil {
		bo = cfg.externalBrokerOptions(log)
	}
	h.br, err = broker.Start(bo)
	if err != nil {
		return nil, err
	}
	if h.nc, err = h.br.Connect("gridedge-hub-ingest"); err != nil {
		return nil, err
	}
	h.applier, err = startIngest(ctx, h, ingest.Options{
		Domain: cfg.Domain, DuplicateWindow: cfg.Ingest.DuplicateWindow.Std(),
		CreateMissing: *cfg.Ingest.CreateMissing, Edges: edgeIDs(cfg.Edges), Logger: log,
		MaxSeqJump: cfg.Ingest.MaxSeqJump, Allowed: allowLists(cfg.Edges, log),
		AfterApply: crashFailpoint(log), ReservedLayer: api.ReservedLayer, Changes: h.publishChange,
	})
	if err != nil {
		return nil, err
	}
	if err := startConverters(ctx, h); err != nil {
		return nil, err
	}
	if cfg.HTTP.Listen.Enabled() {
		if h.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen.HostPort()); err != nil {
			return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTP.Listen, err)
		}
		a := apiServer(h, log)
		a.Converters = h.convertersAPI()
		// map push and rollback through REST, signed with fleet.signingKey (docs/api.md)
		if a.Fleet, err = startFleetControl(h); err != nil {
			return nil, err
		}
		// Timeouts, connection cap and TLS come from the API's http section.
		if h.httpLn, err = a.Listener(h.httpLn); err != nil {
			return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTP.Listen, err)
		}
		h.httpSrv = a.HTTPServer()
		// DDP (/websocket, /sockjs/...) shares the REST port; see docs/ddp.md.
		if h.ddp, err = ddp.New(ddp.Config{Store: a.Store, Auth: h.auth, NC: h.nc, Domain: cfg.Domain,
			Anonymous: cfg.Auth.AuthOptions().Anonymous, Logger: log,
			// REST's login throttle and rate limiter, shared: one count per client and account.
			Guard: a.Guard()}); err != nil {
			return nil, err
		}
		if err := h.ddp.Start(); err != nil {
			return nil, err
		}
		h.httpSrv.Handler = h.ddp.Mount(h.httpSrv.Handler)
		if cfg.Console.On() { // the web console at /console/ (docs/console.md)
			h.httpSrv.Handler = console.Mount(h.httpSrv.Handler, cfg.Console)
		}
	}
	if err := startForecast(h); err != nil {
		return nil, err
	}
	if err := startHistoryNATS(h); err != nil {
		return nil, err
	}
	mountMetrics(h)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	if err := startServices(h, runCtx); err != nil {
		return nil, err
	}
	if err := startIoT(ctx, runCtx, h); err != nil {
		return nil, err
	}
	if err := startBridges(ctx, runCtx, h); err != nil {
		return nil, err
	}
	if err := startFederation(ctx, runCtx, h); err != nil {
		return nil, err
	}
	fl := fleet.New(h.nc, h.st, cfg.Domain, h.edgeStats, log)
	fl.History = h.hist // each heartbeat's figures under system/edges/<edge>
	fl.Judges = cfg.judgesEdge()
	fl.Instance = cfg.NATS.ServerName // its ingest counters in system/edges under hubs.<name>
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := h.applier.Run(runCtx); err != nil {
			h.errc <- err
		}
	}()
	go func() {
		defer h.wg.Done()
		if err := fl.Run(runCtx); err != nil {
			h.errc <- err
		}
	}()
	if h.httpSrv != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if err := h.httpSrv.Serve(h.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.errc <- fmt.Errorf("HTTP server: %w", err)
			}
		}()
	}
	log.Info("hub started", "version", version.String(), "http", h.HTTPAddr(), "nats", h.br.ClientURL(),
		"leaf", h.br.LeafURL(), "domain", cfg.Domain, "data", cfg.DataDir)
	return h, nil
}

// openStore opens the configured backend.
func openStore(ctx context.Context, cfg *Config) (store.Store, error) {
	if cfg.Store.Backend == "mongo" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := mongo.Open(cctx, cfg.Store.MongoURI, cfg.Store.Database,
			mongo.WithMaxQueryTime(cfg.Store.MaxQueryTime.Std()))
		if err != nil {
			return nil, fmt.Errorf("open the mongo store: %w", err)
		}
		return st, nil
	}
	return bolt.Open(filepath.Join(cfg.DataDir, "hub.db"))
}

// publishChange announces a committed REST write.
func (h *Hub) publishChange(c store.Change) {
	data, err := json.Marshal(c)
	if err != nil {
		return
	}
	if err := h.nc.Publish(subject.StorageChanged(h.cfg.Domain, c.Layer, c.Collection), data); err != nil {
		h.log.Warn("publish change event", "err", err)
	}
}

// FailpointExitAfterApply names the environment variable of a test
// failpoint: when set to N, the hub exits (status 3) right after committing
// its N-th batch and before acknowledging it, as a crash would.
const FailpointExitAfterApply = "GRIDEDGE_FAILPOINT_EXIT_AFTER_APPLY"

func crashFailpoint(log *slog.Logger) func(uint64) {
	n, err := strconv.ParseUint(os.Getenv(FailpointExitAfterApply), 10, 64)
	if err != nil || n == 0 {
		return nil
	}
	log.Warn("failpoint armed: the hub will exit between applying and acknowledging a batch", "batch", n)
	return func(applied uint64) {
		if applied >= n {
			log.Error("failpoint: exiting after applying and before acknowledging", "batch", applied)
			os.Exit(3)
		}
	}
}

func edgeIDs(es []EdgeConfig) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func credentials(es []EdgeConfig) []broker.EdgeCredential {
	cs := make([]broker.EdgeCredential, len(es))
	for i, e := range es {
		cs[i] = e.EdgeCredential
	}
	return cs
}

// allowLists are the edges' layer allow-lists; an edge without one may
// write every layer that is not reserved, which is logged.
func allowLists(es []EdgeConfig, log *slog.Logger) map[string][]ingest.LayerGrant {
	m := map[string][]ingest.LayerGrant{}
	for _, e := range es {
		if len(e.Layers) == 0 {
			log.Warn("edge has no layers allow-list: it may write to every layer that is not reserved (set edges[].layers)", "edge", e.ID)
			continue
		}
		m[e.ID] = e.Layers
	}
	return m
}

// HTTPAddr is the REST API's listen address ("" when http.listen is off).
func (h *Hub) HTTPAddr() string {
	if h.httpLn == nil {
		return ""
	}
	return h.httpLn.Addr().String()
}

// LeafURL is the URL edges connect to.
func (h *Hub) LeafURL() string { return h.br.LeafURL() }

// Store is the hub store.
func (h *Hub) Store() store.Store { return h.st }

// Broker is the embedded NATS server.
func (h *Hub) Broker() *broker.Broker { return h.br }

// Err reports a fatal error of a hub component.
func (h *Hub) Err() <-chan error { return h.errc }

// Close stops everything in reverse order and waits for it.
func (h *Hub) Close() {
	if h.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = h.httpSrv.Shutdown(ctx)
		cancel()
	} else if h.httpLn != nil {
		h.httpLn.Close()
	}
	if h.ddp != nil {
		h.ddp.Close()
	}
	if h.fcNATS != nil {
		h.fcNATS.Stop()
	}
	if h.hNATS != nil {
		h.hNATS.Stop()
	}
	if h.fc != nil {
		if err := h.fc.Close(); err != nil {
			h.log.Error("close the forecast service", "err", err)
		}
	}
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
	if h.nc != nil {
		h.nc.Close()
	}
	if h.br != nil {
		h.br.Shutdown()
	}
	if h.st != nil {
		h.st.Close()
	}
	if h.hist != nil {
		if err := h.hist.Close(); err != nil {
			h.log.Error("close the history", "err", err)
		}
	}
}

// Run starts a hub and runs it until ctx is done.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	ApplyGCPercent(cfg, log)
	h, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer h.Close()
	select {
	case <-ctx.Done():
		log.Info("hub stopping")
		return nil
	case err := <-h.errc:
		return err
	}
}
