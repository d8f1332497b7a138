package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gridedge/gridedge/edge/metrics"
	"github.com/gridedge/gridedge/shared/config"
)

// MetricsConfig configures the agent's local Prometheus metrics listener.
type MetricsConfig struct {
	// Listen is where GET /metrics is served (default "": off). A bare
	// port ("9101") listens on loopback only; "host:port" listens there
	// (":9101" on every interface, logged as a warning: the metrics have
	// no authentication).
	Listen string `json:"listen,omitempty"`
}

// addr is the listen address, with a bare port on loopback.
func (m MetricsConfig) addr() string {
	if _, err := strconv.ParseUint(m.Listen, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", m.Listen)
	}
	return m.Listen
}

// validate reports a listen value that is neither a port nor host:port.
func (m MetricsConfig) validate(es *config.Errors) {
	if m.Listen == "" {
		return
	}
	if _, _, err := net.SplitHostPort(m.addr()); err != nil {
		es.Add("metrics.listen", "%q is not a port or host:port", m.Listen)
	}
}

// serveMetrics starts the metrics listener when configured; it stops when
// ctx ends (a.wg waits for it).
func (a *Agent) serveMetrics(ctx context.Context) error {
	if a.cfg.Metrics.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Metrics.addr())
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", a.cfg.Metrics.Listen, err)
	}
	if !isLoopback(ln.Addr()) {
		a.log.Warn("WARNING: the metrics listener is not on loopback: anyone who reaches it reads the agent's metrics (set metrics.listen to a port alone for loopback)",
			"addr", ln.Addr().String())
	}
	a.metricsAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(a.writeMetrics, a.log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener stopped", "err", err)
		}
	}()
	go func() {
		defer a.wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.log.Info("metrics listener started", "addr", a.metricsAddr)
	return nil
}

// MetricsAddr is the metrics listener's address ("" when off).
func (a *Agent) MetricsAddr() string { return a.metricsAddr }

func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ok && ip.Unmap().IsLoopback()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeMetrics writes the exposition from the agent's status: the same
// figures as the heartbeat, plus request and acknowledgement latencies.
func (a *Agent) writeMetrics(w *metrics.Writer) {
	st, err := a.Status()
	if err != nil {
		a.log.Warn("metrics: reading the status", "err", err)
	}
	L := metrics.L
	w.Family("gridedge_agent_up", "1 while the agent runs; labels carry the edge id and version.", metrics.Gauge)
	w.Sample(L("edge", st.Edge, "version", st.Version), 1)
	w.Family("gridedge_agent_uptime_seconds", "Seconds since the agent started.", metrics.Gauge)
	w.Sample(nil, st.Uptime)
	w.Family("gridedge_agent_hub_connected", "1 while the leaf link to the hub is up.", metrics.Gauge)
	w.Sample(nil, b2f(st.HubConnected))

	slave := func(name string) []metrics.Label { return L("slave", name) }
	w.Family("gridedge_agent_modbus_requests_total", "Modbus requests sent to a slave, failed ones included.", metrics.Counter)
	for _, s := range st.Slaves {
		w.Sample(slave(s.Name), float64(s.Latency.Count))
	}
	w.Family("gridedge_agent_modbus_errors_total", "Modbus requests to a slave that failed (timeout, exception, connection).", metrics.Counter)
	for _, s := range st.Slaves {
		w.Sample(slave(s.Name), float64(s.Errors))
	}
	w.Family("gridedge_agent_modbus_request_duration_seconds", "Round trip of Modbus requests to a slave.", metrics.Histogram)
	for _, s := range st.Slaves {
		w.Histogram(slave(s.Name), s.Latency)
	}
	w.Family("gridedge_agent_slave_up", "1 when the slave's last poll cycle reached the device.", metrics.Gauge)
	for _, s := range st.Slaves {
		w.Sample(slave(s.Name), b2f(s.Up))
	}
	w.Family("gridedge_agent_poll_cycles_total", "Completed poll cycles of a slave.", metrics.Counter)
	for _, s := range st.Slaves {
		w.Sample(slave(s.Name), float64(s.Cycles))
	}
	w.Family("gridedge_agent_poll_overruns_total", "Poll cycles of a slave skipped because the previous one overran its period.", metrics.Counter)
	for _, s := range st.Slaves {
		w.Sample(slave(s.Name), float64(s.Overruns))
	}

	b := st.Buffer
	for _, g := range []struct {
		name, help string
		typ        metrics.Type
		v          float64
	}{
		{"gridedge_agent_buffer_depth", "Updates in the store-and-forward buffer, not yet acknowledged by the hub.", metrics.Gauge, float64(b.Depth)},
		{"gridedge_agent_buffer_bytes", "Encoded size of the buffered updates.", metrics.Gauge, float64(b.Bytes)},
		{"gridedge_agent_buffer_file_bytes", "Size of the buffer file on disk.", metrics.Gauge, float64(b.FileBytes)},
		{"gridedge_agent_buffer_oldest_age_seconds", "Age of the oldest buffered update (0 when empty).", metrics.Gauge, st.OldestUnsentAge},
		{"gridedge_agent_buffer_dropped_total", "Updates deleted unsent by the overflow or age policy.", metrics.Counter, float64(b.Dropped)},
		{"gridedge_agent_buffer_rejected_total", "Updates refused by the reject-new overflow policy.", metrics.Counter, float64(b.Rejected)},
		{"gridedge_agent_buffer_refused_total", "Updates a failed append did not store (full disk, I/O error) since start.", metrics.Counter, float64(b.Refused)},
		{"gridedge_agent_forwarder_batches_total", "Batches the hub acknowledged.", metrics.Counter, float64(st.Forwarder.Batches)},
		{"gridedge_agent_forwarder_updates_total", "Updates the hub acknowledged.", metrics.Counter, float64(st.Forwarder.Sent)},
		{"gridedge_agent_forwarder_duplicates_total", "Batches the hub reported as already received.", metrics.Counter, float64(st.Forwarder.Duplicates)},
		{"gridedge_agent_forwarder_failures_total", "Failed attempts to publish a batch.", metrics.Counter, float64(st.Forwarder.Failures)},
		{"gridedge_agent_forwarder_lag_seconds", "How far the hub is behind: the age of the oldest update it has not acknowledged (0 when caught up).", metrics.Gauge, st.OldestUnsentAge},
		{"gridedge_agent_forwarder_lag_updates", "Updates the hub has not acknowledged yet.", metrics.Gauge, float64(b.Depth)},
	} {
		w.Family(g.name, g.help, g.typ)
		w.Sample(nil, g.v)
	}
	w.Family("gridedge_agent_forwarder_ack_duration_seconds", "Time from publishing a batch to the hub's acknowledgement, failures included.", metrics.Histogram)
	w.Histogram(nil, st.Forwarder.AckLatency)
	writeMemoryMetrics(w)
}
