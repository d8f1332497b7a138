// Package metrics exposes the hub's counters to Prometheus at /metrics on
// the hub's HTTP port: ingest per edge, REST requests by route and status,
// history points written, DDP sessions, edges online and offline, and the
// Go runtime and process. Each hub has its own registry (never the global
// default), so that tests can run several hubs in one process.
//
// Most values are read from the components' existing stats at scrape time
// (a collector per source); only REST requests are counted here, by the
// API's request observer. Access is guarded by its own rule (see Handler
// and docs/security.md).
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
)

// Path is where the hub serves the exposition.
const Path = "/metrics"

// EdgeHealth is what the fleet view knows of one edge.
type EdgeHealth struct {
	// Edge is the edge id.
	Edge string
	// Online is false when the edge's heartbeat is overdue (or never came).
	Online bool
	// LastSeen is when its last heartbeat arrived (zero: never).
	LastSeen time.Time
}

// Sources are the hub components the metrics are read from; a nil field
// leaves its metrics out.
type Sources struct {
	// Edges lists the configured edges, so that an edge that sent nothing
	// yet is exported with zeros rather than missing.
	Edges []string
	// Ingest returns the ingest applier's counters of one edge.
	Ingest func(edge string) ingest.EdgeStats
	// IngestEdges lists the edges the applier has counters for.
	IngestEdges func() []string
	// History returns the history store's counters.
	History func() history.Stats
	// HistoryErrors counts history appends that failed.
	HistoryErrors func() uint64
	// DDPSessions returns the open DDP sessions and how many were opened.
	DDPSessions func() (open int, opened uint64)
	// Fleet returns the edges' health as the fleet view records it.
	Fleet func(ctx context.Context) ([]EdgeHealth, error)
	// Logger receives collection errors.
	Logger *slog.Logger
}

// Metrics is one hub's registry and the REST request counters.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns the registry of one hub with every source's collector, the
// Go runtime and the process collectors.
func New(src Sources) *Metrics {
	if src.Logger == nil {
		src.Logger = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gridedge_hub_http_requests_total",
			Help: "REST API requests by route pattern (never the raw path), method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gridedge_hub_http_request_duration_seconds",
			Help:    "Time to serve a REST API request, by route pattern and method.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10},
		}, []string{"route", "method"}),
	}
	m.reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&sourceCollector{src: src})
	return m
}

// Registry is the hub's registry (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest counts one REST request; route is the route's pattern.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

var (
	descBatches = prometheus.NewDesc("gridedge_hub_ingest_batches_total",
		"Edge batches applied by the ingest applier (including replays it skipped entirely).", []string{"edge"}, nil)
	descApplied = prometheus.NewDesc("gridedge_hub_ingest_updates_applied_total",
		"Document updates of an edge written to the store.", []string{"edge"}, nil)
	descDuplicates = prometheus.NewDesc("gridedge_hub_ingest_updates_duplicate_total",
		"Replayed updates of an edge skipped because they were at or below its high-water mark.", []string{"edge"}, nil)
	descMissing = prometheus.NewDesc("gridedge_hub_ingest_updates_missing_total",
		"Sequence numbers missing between an edge's batches (updates dropped at the edge).", []string{"edge"}, nil)
	descDead = prometheus.NewDesc("gridedge_hub_ingest_dead_letters_total",
		"Batches of an edge moved to the dead-letter stream, by reason: quarantined (implausible sequence jump), refused (outside the edge's layers allow-list), error (anything else).",
		[]string{"edge", "reason"}, nil)
	descRetries = prometheus.NewDesc("gridedge_hub_ingest_retries_total",
		"Applies of an edge's batches that failed without committing anything (the store, or the history written before the commit, unavailable) and were tried again.",
		[]string{"edge"}, nil)
	descLastSeq = prometheus.NewDesc("gridedge_hub_ingest_last_seq",
		"Highest sequence number applied for an edge.", []string{"edge"}, nil)
	descLastApplied = prometheus.NewDesc("gridedge_hub_ingest_last_applied_timestamp_seconds",
		"When the last batch of an edge was applied (Unix time; absent before the first).", []string{"edge"}, nil)
	descHistWritten = prometheus.NewDesc("gridedge_hub_history_points_written_total",
		"Measurement samples written to the history.", nil, nil)
	descHistUnchanged = prometheus.NewDesc("gridedge_hub_history_points_unchanged_total",
		"String samples not written because the state did not change.", nil, nil)
	descHistRefused = prometheus.NewDesc("gridedge_hub_history_points_refused_total",
		"Samples the history refused (older than the out-of-order window, or conflicting).", nil, nil)
	descHistErrors = prometheus.NewDesc("gridedge_hub_history_append_errors_total",
		"History appends that failed: edge batches not committed (tried again), REST/NATS writes whose documents were written without their history.", nil, nil)
	descDDPOpen = prometheus.NewDesc("gridedge_hub_ddp_sessions",
		"Open DDP (WebSocket) sessions.", nil, nil)
	descDDPOpened = prometheus.NewDesc("gridedge_hub_ddp_sessions_opened_total",
		"DDP sessions opened since the hub started.", nil, nil)
	descFleetEdges = prometheus.NewDesc("gridedge_hub_edges",
		"Edges by state: online (heartbeat within 3 intervals) or offline.", []string{"state"}, nil)
	descEdgeUp = prometheus.NewDesc("gridedge_hub_edge_online",
		"1 when the edge's heartbeat is current, 0 when it is overdue or never came.", []string{"edge"}, nil)
	descEdgeSeen = prometheus.NewDesc("gridedge_hub_edge_last_seen_timestamp_seconds",
		"When the edge's last heartbeat arrived (Unix time; absent when it never came).", []string{"edge"}, nil)
)

// sourceCollector reads the sources at scrape time.
type sourceCollector struct{ src Sources }

// Describe sends the descriptors of every metric the sources may produce.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBatches, descApplied, descDuplicates, descMissing, descDead, descRetries, descLastSeq,
		descLastApplied, descHistWritten, descHistUnchanged, descHistRefused, descHistErrors, descDDPOpen, descDDPOpened,
		descFleetEdges, descEdgeUp, descEdgeSeen} {
		ch <- d
	}
}

// Collect reads every source once.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if s.Ingest != nil {
		edges := slices.Clone(s.Edges)
		if s.IngestEdges != nil {
			edges = append(edges, s.IngestEdges()...)
		}
		slices.Sort(edges)
		for _, e := range slices.Compact(edges) {
			st := s.Ingest(e)
			counter(descBatches, st.Batches, e)
			counter(descApplied, st.Applied, e)
			counter(descDuplicates, st.Skipped, e)
			counter(descMissing, st.Missing, e)
			other := st.DeadLetters - min(st.DeadLetters, st.Quarantined+st.Refused)
			counter(descDead, st.Quarantined, e, "quarantined")
			counter(descDead, st.Refused, e, "refused")
			counter(descDead, other, e, "error")
			counter(descRetries, st.Retries, e)
			gauge(descLastSeq, float64(st.LastSeq), e)
			if !st.LastApplied.IsZero() {
				gauge(descLastApplied, unixSeconds(st.LastApplied), e)
			}
		}
	}
	if s.History != nil {
		h := s.History()
		counter(descHistWritten, h.Written)
		counter(descHistUnchanged, h.Unchanged)
		counter(descHistRefused, h.Refused)
	}
	if s.HistoryErrors != nil {
		counter(descHistErrors, s.HistoryErrors())
	}
	if s.DDPSessions != nil {
		open, opened := s.DDPSessions()
		gauge(descDDPOpen, float64(open))
		counter(descDDPOpened, opened)
	}
	if s.Fleet != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		edges, err := s.Fleet(ctx)
		if err != nil {
			s.Logger.Warn("metrics: reading the fleet view", "err", err)
			ch <- prometheus.NewInvalidMetric(descFleetEdges, err)
			return
		}
		var online, offline int
		for _, e := range edges {
			up := 0.0
			if e.Online {
				up = 1
				online++
			} else {
				offline++
			}
			gauge(descEdgeUp, up, e.Edge)
			if !e.LastSeen.IsZero() {
				gauge(descEdgeSeen, unixSeconds(e.LastSeen), e.Edge)
			}
		}
		gauge(descFleetEdges, float64(online), "online")
		gauge(descFleetEdges, float64(offline), "offline")
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

var _ prometheus.Collector = (*sourceCollector)(nil)

// The handler's content negotiation is promhttp's; see handler.go.
var _ http.Handler = (*guard)(nil)
