package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/metrics"
	gmodel "github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

const metricsTestToken = "scrape-token-0123456789"

// scrape reads /metrics with hdr and parses it with Prometheus's parser.
func scrape(t *testing.T, addr string, hdr func(*http.Request)) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+metrics.Path, nil)
	if hdr != nil {
		hdr(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the Prometheus text parser refused /metrics: %v", err)
	}
	return resp.StatusCode, fams
}

// value is the value of the sample of family name whose labels include
// every pair of want (-1 when there is none).
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// batchEpoch is the time of sequence number 0 in publishBatch's readings.
var batchEpoch = time.Now().UTC().Truncate(time.Second)

// publishBatch sends n updates of edge e from sequence first, as the
// agent's forwarder does (wire encoding, Nats-Msg-Id), and waits for the ack.
func publishBatch(t *testing.T, js jetstream.JetStream, edge string, first uint64, n int, msgID string) {
	t.Helper()
	var d wire.MemDict
	enc := make([][]byte, n)
	for i := range enc {
		// one millisecond per sequence number: batches published within a
		// few milliseconds of each other gave two readings of M1 the same
		// time, and the history refused the second
		ts := batchEpoch.Add(time.Duration(first+uint64(i)) * time.Millisecond)
		u := gmodel.MeasurementUpdate("demo", "meters", "M1", ts,
			map[string]gmodel.Measurement{"power": {Value: float64(first) + float64(i), Quality: gmodel.QualityGood, Timestamp: ts}})
		var err error
		if enc[i], err = wire.AppendUpdate(nil, &u, &d); err != nil {
			t.Fatal(err)
		}
	}
	data, err := wire.AppendBatch(nil, edge, first, enc, &d)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(subject.Ingest("gridedge", edge))
	msg.Data = data
	if msgID == "" {
		msgID = fmt.Sprintf("%s:%d-%d", edge, first, first+uint64(n)-1)
	}
	msg.Header.Set(nats.MsgIdHdr, msgID)
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsMoveWhenReadingsFlow starts a hub with edges e1 and e2, sends
// e1's batches (once replayed), a heartbeat, REST requests and a DDP
// session, and scrapes /metrics with Prometheus's text parser after each.
func TestMetricsMoveWhenReadingsFlow(t *testing.T) {
	t.Setenv(EnvAdminPassword, "metrics-admin-password")
	cfg := testConfig(t, t.TempDir())
	cfg.Edges = []EdgeConfig{
		{EdgeCredential: broker.EdgeCredential{ID: "e1", Password: "e1-password"}, Layers: []ingest.LayerGrant{{Layer: "demo"}}},
		{EdgeCredential: broker.EdgeCredential{ID: "e2", Password: "e2-password"}, Layers: []ingest.LayerGrant{{Layer: "demo"}}},
	}
	cfg.Metrics.ScrapeToken = metricsTestToken
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+metricsTestToken) }

	_, before := scrape(t, h.HTTPAddr(), bearer)
	for _, c := range []struct {
		name string
		want float64
		lbl  []string
	}{
		{"gridedge_hub_ingest_updates_applied_total", 0, []string{"edge", "e1"}},
		{"gridedge_hub_ingest_updates_applied_total", 0, []string{"edge", "e2"}},
		{"gridedge_hub_edges", 2, []string{"state", "offline"}},
		{"gridedge_hub_edges", 0, []string{"state", "online"}},
		{"gridedge_hub_ddp_sessions", 0, nil},
		{"gridedge_hub_history_points_written_total", 0, nil},
	} {
		if got := value(before, c.name, c.lbl...); got != c.want {
			t.Errorf("before: %s%v = %v, want %v", c.name, c.lbl, got, c.want)
		}
	}
	if before["go_goroutines"] == nil || before["process_cpu_seconds_total"] == nil {
		t.Error("the Go runtime and process collectors are missing")
	}

	// readings flow: two batches of e1, the second sent twice
	nc, err := h.Broker().Connect("metrics-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	publishBatch(t, js, "e1", 1, 5, "")
	publishBatch(t, js, "e1", 6, 3, "")
	// the fleet subscribes to heartbeats before it answers fleet.list: once
	// it answers, a heartbeat published now is recorded
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := nc.Request(subject.FleetList("gridedge"), nil, time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the fleet never answered %s: %v", subject.FleetList("gridedge"), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	hb, _ := json.Marshal(map[string]any{"edge": "e1", "version": "test"})
	if err := nc.Publish(subject.Heartbeat("gridedge", "e1"), hb); err != nil {
		t.Fatal(err)
	}
	// within the 15 s after which the fleet marks e1 offline again (3
	// intervals of 5 s: the heartbeat says none)
	deadline := time.Now().Add(10 * time.Second)
	var fams map[string]*dto.MetricFamily
	for {
		_, fams = scrape(t, h.HTTPAddr(), bearer)
		if value(fams, "gridedge_hub_ingest_updates_applied_total", "edge", "e1") == 8 &&
			value(fams, "gridedge_hub_edges", "state", "online") == 1 &&
			// the heartbeat's figures reach the history after its record
			value(fams, "gridedge_hub_history_points_written_total") >= 8+6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 8 updates and a heartbeat of e1: applied %v, online %v, history points %v (want 8, 1, 14)",
				value(fams, "gridedge_hub_ingest_updates_applied_total", "edge", "e1"), value(fams, "gridedge_hub_edges", "state", "online"),
				value(fams, "gridedge_hub_history_points_written_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		name string
		want float64
		lbl  []string
	}{
		{"gridedge_hub_ingest_batches_total", 2, []string{"edge", "e1"}},
		{"gridedge_hub_ingest_last_seq", 8, []string{"edge", "e1"}},
		{"gridedge_hub_ingest_updates_applied_total", 0, []string{"edge", "e2"}},
		{"gridedge_hub_ingest_dead_letters_total", 0, []string{"edge", "e1", "reason", "refused"}},
		{"gridedge_hub_edge_online", 1, []string{"edge", "e1"}},
		{"gridedge_hub_edge_online", 0, []string{"edge", "e2"}},
		{"gridedge_hub_edges", 1, []string{"state", "offline"}},
		// the 8 readings, and the heartbeat's 6 figures under system/edges/e1
		// (online, buffer depth, oldest unsent, slaves up and total, uptime)
		{"gridedge_hub_history_points_written_total", 8 + 6, nil},
	} {
		if got := value(fams, c.name, c.lbl...); got != c.want {
			t.Errorf("after readings: %s%v = %v, want %v", c.name, c.lbl, got, c.want)
		}
	}

	// a replay of e1's second batch that JetStream's de-duplication window
	// does not catch (another message id): the applier skips its updates
	publishBatch(t, js, "e1", 6, 3, "e1:6-8:replayed")
	waitFor(t, "the replayed updates counted as duplicates", func() bool {
		_, fams = scrape(t, h.HTTPAddr(), bearer)
		return value(fams, "gridedge_hub_ingest_updates_duplicate_total", "edge", "e1") == 3
	})
	if got := value(fams, "gridedge_hub_ingest_updates_applied_total", "edge", "e1"); got != 8 {
		t.Errorf("applied after the replay = %v, want still 8", got)
	}

	// REST requests are counted by route pattern, never by raw path
	base := "http://" + h.HTTPAddr() + "/api/v2"
	for _, id := range []string{"M1", "M2", "nope"} {
		call(t, "GET", base+"/demo/meters/"+id, nil, nil) // 401: no credentials
	}
	call(t, "GET", base+"/health", nil, nil)
	call(t, "GET", base+"/no/such/path/at/all", nil, nil)
	_, fams = scrape(t, h.HTTPAddr(), bearer)
	if got := value(fams, "gridedge_hub_http_requests_total", "route", "/api/v2/{layer}/{collection}/{id}", "method", "GET", "code", "401"); got != 3 {
		t.Errorf("GET /api/v2/{layer}/{collection}/{id} 401 = %v, want 3", got)
	}
	if got := value(fams, "gridedge_hub_http_requests_total", "route", "/api/v2/health", "code", "200"); got != 1 {
		t.Errorf("health 200 = %v, want 1", got)
	}
	if got := value(fams, "gridedge_hub_http_request_duration_seconds", "route", "/api/v2/health"); got != 1 {
		t.Errorf("health duration observations = %v, want 1", got)
	}
	for _, m := range fams["gridedge_hub_http_requests_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "route" && (l.GetValue() == "/api/v2/demo/meters/M1" || l.GetValue() == "/api/v2/no/such/path/at/all") {
				t.Errorf("a raw path became a route label: %s", l.GetValue())
			}
		}
	}
	if got := value(fams, "gridedge_hub_http_requests_total", "route", api404Route, "code", "404"); got != 1 {
		t.Errorf("unmatched 404 = %v, want 1", got)
	}

	// a DDP session
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+h.HTTPAddr()+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one open DDP session", func() bool {
		_, fams = scrape(t, h.HTTPAddr(), bearer)
		return value(fams, "gridedge_hub_ddp_sessions") == 1 && value(fams, "gridedge_hub_ddp_sessions_opened_total") == 1
	})
	ws.Close()
	waitFor(t, "no open DDP session", func() bool {
		_, fams = scrape(t, h.HTTPAddr(), bearer)
		return value(fams, "gridedge_hub_ddp_sessions") == 0
	})
}

const api404Route = "unmatched"

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsAccess: /metrics has its own rule: an admin's token or the
// scrape token (bearer or basic auth), unless public; off when disabled.
func TestMetricsAccess(t *testing.T) {
	t.Setenv(EnvAdminPassword, "metrics-admin-password")
	start := func(t *testing.T, mc metrics.Config) *Hub {
		t.Helper()
		cfg := testConfig(t, t.TempDir())
		cfg.Metrics = mc
		cfg.Defaults()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		h, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h
	}
	h := start(t, metrics.Config{ScrapeToken: metricsTestToken})
	ctx := context.Background()
	admin, err := h.Auth().Login(ctx, "admin", "metrics-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Auth().AddUser(ctx, auth.NewUser{Name: "viewer", Password: "viewer-password"}); err != nil {
		t.Fatal(err)
	}
	viewer, err := h.Auth().Login(ctx, "viewer", "viewer-password")
	if err != nil {
		t.Fatal(err)
	}
	tokens := func(s *auth.Session) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-User-ID", s.UserID); r.Header.Set("X-Auth-Token", s.Token) }
	}
	tests := []struct {
		name string
		hdr  func(*http.Request)
		want int
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"scrape token as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+metricsTestToken) }, http.StatusOK},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+metricsTestToken+"x") }, http.StatusUnauthorized},
		{"scrape token as basic auth", func(r *http.Request) { r.SetBasicAuth("prometheus", metricsTestToken) }, http.StatusOK},
		{"basic auth, wrong user", func(r *http.Request) { r.SetBasicAuth("admin", metricsTestToken) }, http.StatusUnauthorized},
		{"admin's token", tokens(admin), http.StatusOK},
		{"admin's token, wrong secret", func(r *http.Request) { r.Header.Set("X-User-ID", "admin"); r.Header.Set("X-Auth-Token", "nope") }, http.StatusUnauthorized},
		{"a user who is not an admin", tokens(viewer), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := scrape(t, h.HTTPAddr(), tt.hdr); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("public", func(t *testing.T) {
		h := start(t, metrics.Config{Public: true})
		if got, fams := scrape(t, h.HTTPAddr(), nil); got != http.StatusOK || fams["gridedge_hub_edges"] == nil {
			t.Errorf("status = %d, families %d; want 200 with gridedge_hub_edges", got, len(fams))
		}
	})
	t.Run("disabled", func(t *testing.T) {
		off := false
		h := start(t, metrics.Config{Enabled: &off})
		if got, _ := scrape(t, h.HTTPAddr(), tokens(admin)); got != http.StatusNotFound {
			t.Errorf("status = %d, want 404", got)
		}
		if h.Metrics() != nil {
			t.Error("a registry was made with metrics disabled")
		}
	})
}

// TestMetricsConfig: a short scrape token, and public with a token, are
// refused with the field's path.
func TestMetricsConfig(t *testing.T) {
	tests := []struct {
		name string
		mc   metrics.Config
		want string
	}{
		{"short token", metrics.Config{ScrapeToken: "short"}, "metrics.scrapeToken: must be at least 16 characters"},
		{"public and token", metrics.Config{Public: true, ScrapeToken: metricsTestToken}, "metrics.public: is set together with scrapeToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Metrics: tt.mc}
			cfg.Defaults()
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
