package daemon

import (
	"time"

	"github.com/gridedge/gridedge/hub/metrics"
)

// defaultHeartbeat is the agent's default heartbeat interval; an edge
// whose record the fleet view has not marked is offline after
// metrics.OfflineAfter of them.
const defaultHeartbeat = 5 * time.Second

// hubMetrics returns the hub's metrics registry, made on first use. Its
// sources read the hub's components at scrape time.
func (h *Hub) hubMetrics() *metrics.Metrics {
	if h.metrics != nil {
		return h.metrics
	}
	src := metrics.Sources{
		Edges:  edgeIDs(h.cfg.Edges),
		Fleet:  metrics.FleetFromStore(h.st, edgeIDs(h.cfg.Edges), defaultHeartbeat, time.Now),
		Logger: h.log,
	}
	if h.applier != nil {
		src.Ingest, src.IngestEdges = h.applier.EdgeStats, h.applier.EdgeIDs
	}
	if h.hist != nil {
		src.History = h.hist.Stats
	}
	if h.rec != nil {
		src.HistoryErrors = h.rec.Errors
	}
	src.DDPSessions = func() (int, uint64) {
		if h.ddp == nil {
			return 0, 0
		}
		return h.ddp.Sessions()
	}
	h.metrics = metrics.New(src)
	return h.metrics
}

// mountMetrics serves /metrics on the HTTP port when the metrics section
// enables it, with its own access rule (docs/security.md).
func mountMetrics(h *Hub) {
	if h.httpSrv == nil || !h.cfg.Metrics.On() {
		return
	}
	if h.cfg.Metrics.Public {
		h.log.Warn("metrics.public: /metrics answers without credentials; it names every edge")
	}
	h.httpSrv.Handler = h.hubMetrics().Mount(h.httpSrv.Handler, h.cfg.Metrics, h.auth)
}

// Metrics is the hub's metrics registry (nil when metrics are off or
// there is no HTTP listener).
func (h *Hub) Metrics() *metrics.Metrics { return h.metrics }
