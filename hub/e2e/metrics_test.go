package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics reads a /metrics URL with Prometheus's text parser.
func scrapeMetrics(t *testing.T, url string, hdr map[string]string) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the Prometheus text parser refused %s: %v", url, err)
	}
	return fams, nil
}

// metricSum adds the values of name's samples whose label key has value
// val (every sample when key is ""); -1 when the family is missing.
func metricSum(fams map[string]*dto.MetricFamily, name, key, val string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	sum := 0.0
	for _, m := range f.Metric {
		if key != "" {
			match := false
			for _, l := range m.Label {
				match = match || (l.GetName() == key && l.GetValue() == val)
			}
			if !match {
				continue
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsOfTheRunningBinaries: the simulator, hub and agent binaries
// run; the hub's /metrics (admin token) and the agent's local listener
// are scraped while readings flow, and the counters on both ends move.
func TestMetricsOfTheRunningBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binaries; skipped with -short")
	}
	agentMetrics := freePort(t)
	s := startStackWith(t, stackOptions{period: 0.2, agentYAML: fmt.Sprintf("metrics: {listen: '%d'}\n", agentMetrics)})
	hubURL := s.url("/metrics")
	agentURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", agentMetrics)

	if _, err := scrapeMetrics(t, hubURL, nil); err == nil {
		t.Fatal("the hub's /metrics answered without credentials")
	}
	var hub, agent map[string]*dto.MetricFamily
	eventually(t, 30*time.Second, 100*time.Millisecond, "readings applied at the hub and the edge online", func() bool {
		var err error
		if hub, err = scrapeMetrics(t, hubURL, s.auth); err != nil {
			return false
		}
		return metricSum(hub, "gridedge_hub_ingest_updates_applied_total", "edge", "edge1") > 0 &&
			metricSum(hub, "gridedge_hub_edge_online", "edge", "edge1") == 1
	})
	eventually(t, 30*time.Second, 100*time.Millisecond, "the agent's metrics listener", func() bool {
		var err error
		agent, err = scrapeMetrics(t, agentURL, nil)
		return err == nil && metricSum(agent, "gridedge_agent_forwarder_batches_total", "", "") > 0
	})
	applied := metricSum(hub, "gridedge_hub_ingest_updates_applied_total", "edge", "edge1")
	written := metricSum(hub, "gridedge_hub_history_points_written_total", "", "")
	cycles := metricSum(agent, "gridedge_agent_poll_cycles_total", "", "")
	requests := metricSum(agent, "gridedge_agent_modbus_requests_total", "", "")
	sent := metricSum(agent, "gridedge_agent_forwarder_updates_total", "", "")
	if len(agent["gridedge_agent_slave_up"].GetMetric()) != 2 || metricSum(agent, "gridedge_agent_slave_up", "", "") != 2 {
		t.Errorf("gridedge_agent_slave_up = %v, want both slaves up", agent["gridedge_agent_slave_up"])
	}

	eventually(t, 30*time.Second, 200*time.Millisecond, "every counter to move", func() bool {
		h, err1 := scrapeMetrics(t, hubURL, s.auth)
		a, err2 := scrapeMetrics(t, agentURL, nil)
		if err1 != nil || err2 != nil {
			return false
		}
		hub, agent = h, a
		return metricSum(hub, "gridedge_hub_ingest_updates_applied_total", "edge", "edge1") > applied &&
			metricSum(hub, "gridedge_hub_history_points_written_total", "", "") > written &&
			metricSum(agent, "gridedge_agent_poll_cycles_total", "", "") > cycles &&
			metricSum(agent, "gridedge_agent_modbus_requests_total", "", "") > requests &&
			metricSum(agent, "gridedge_agent_forwarder_updates_total", "", "") > sent
	})
	if got := metricSum(hub, "gridedge_hub_http_requests_total", "route", "/api/v2/login"); got < 1 {
		t.Errorf("the stack's login is not counted under route /api/v2/login: %v", got)
	}
	if got := metricSum(agent, "gridedge_agent_modbus_errors_total", "", ""); got != 0 {
		t.Errorf("modbus errors = %v, want 0 with the simulator answering", got)
	}
	if got := metricSum(agent, "gridedge_agent_hub_connected", "", ""); got != 1 {
		t.Errorf("gridedge_agent_hub_connected = %v, want 1", got)
	}
}
