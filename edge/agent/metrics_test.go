package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// scrapeAgent reads the agent's /metrics with Prometheus's text parser.
func scrapeAgent(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(pmodel.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the Prometheus text parser refused the agent's /metrics: %v", err)
	}
	return fams
}

// sample is the value of name's sample with label slave=slave ("" for
// none); histograms give their count; -1 when missing.
func sample(fams map[string]*dto.MetricFamily, name, slave string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.Metric {
		if slave != "" && (len(m.Label) == 0 || m.Label[0].GetValue() != slave) {
			continue
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

// TestMetricsMoveWhenReadingsFlow runs a real agent polling a Modbus
// simulator and forwarding over a leaf link to an embedded NATS server
// with JetStream standing in for the hub, scrapes the local metrics
// listener with Prometheus's parser, and checks that the counters move.
func TestMetricsMoveWhenReadingsFlow(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 1, 42, 0, 3)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = (&modbus.Server{Handler: mem, Logger: quiet}).Serve(ctx, l) }()

	dir := t.TempDir()
	leafPort := freePort(t)
	hub, err := server.NewServer(&server.Options{ServerName: "hub", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"),
		NoSigs: true, NoLog: true, LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort}})
	if err != nil {
		t.Fatal(err)
	}
	go hub.Start()
	defer hub.Shutdown()
	if !hub.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub not ready")
	}
	hnc, err := nats.Connect(hub.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer hnc.Close()
	if _, err := hnc.Subscribe(subject.EdgeControl("t", "e1", subject.ActionHWM), func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"edge":"e1","hwm":0}`))
	}); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(hnc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST", Subjects: []string{subject.IngestAll("t")}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}

	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, l.Addr().(*net.TCPAddr).Port))
	cfg, err := Load(write(t, dir, "agent.yaml", fmt.Sprintf(
		"edge: {id: e1}\ndomain: t\ndataDir: %s\nnats: {listen: 'off'}\nsettingsFile: settings.json\nhub: {url: 'nats-leaf://127.0.0.1:%d', user: e1, password: e1-password}\nmetrics: {listen: '0'}\n",
		filepath.Join(dir, "data"), leafPort)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !strings.HasPrefix(a.MetricsAddr(), "127.0.0.1:") {
		t.Fatalf("a bare port listens on %q, want loopback", a.MetricsAddr())
	}

	st, _ := a.Status()
	if len(st.Slaves) != 1 {
		t.Fatalf("slaves = %d", len(st.Slaves))
	}
	name := st.Slaves[0].Name
	first := scrapeAgent(t, a.MetricsAddr())
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(15 * time.Second)
	for {
		fams = scrapeAgent(t, a.MetricsAddr())
		if sample(fams, "gridedge_agent_poll_cycles_total", name) >= sample(first, "gridedge_agent_poll_cycles_total", name)+3 &&
			sample(fams, "gridedge_agent_forwarder_batches_total", "") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not move: cycles %v -> %v, batches %v",
				sample(first, "gridedge_agent_poll_cycles_total", name), sample(fams, "gridedge_agent_poll_cycles_total", name),
				sample(fams, "gridedge_agent_forwarder_batches_total", ""))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		metric string
		slave  string
		ok     func(float64) bool
		want   string
	}{
		{"gridedge_agent_modbus_requests_total", name, func(v float64) bool { return v >= 3 }, ">= 3"},
		{"gridedge_agent_modbus_request_duration_seconds", name, func(v float64) bool { return v >= 3 }, "count >= 3"},
		{"gridedge_agent_modbus_errors_total", name, func(v float64) bool { return v == 0 }, "0"},
		{"gridedge_agent_slave_up", name, func(v float64) bool { return v == 1 }, "1"},
		{"gridedge_agent_hub_connected", "", func(v float64) bool { return v == 1 }, "1"},
		{"gridedge_agent_forwarder_updates_total", "", func(v float64) bool { return v >= 1 }, ">= 1"},
		{"gridedge_agent_forwarder_ack_duration_seconds", "", func(v float64) bool { return v >= 1 }, "count >= 1"},
		{"gridedge_agent_buffer_dropped_total", "", func(v float64) bool { return v == 0 }, "0"},
		{"gridedge_agent_poll_overruns_total", name, func(v float64) bool { return v >= 0 }, "present"},
		{"gridedge_agent_buffer_depth", "", func(v float64) bool { return v >= 0 }, "present"},
		{"gridedge_agent_go_memory_bytes", "heap/objects", func(v float64) bool { return v > 0 }, "> 0"},
		{"gridedge_agent_go_memory_bytes", "heap/stacks", func(v float64) bool { return v > 0 }, "> 0"},
		{"gridedge_agent_go_heap_live_bytes", "", func(v float64) bool { return v > 0 }, "> 0"},
		{"gridedge_agent_go_heap_goal_bytes", "", func(v float64) bool { return v > 0 }, "> 0"},
		{"gridedge_agent_go_gc_cycles_total", "", func(v float64) bool { return v >= 0 }, "present"},
		{"gridedge_agent_goroutines", "", func(v float64) bool { return v > 10 }, "> 10"},
		{"gridedge_agent_resident_memory_bytes", "anon", func(v float64) bool { return v > 1<<20 }, "> 1 MiB"},
		{"gridedge_agent_resident_memory_bytes", "file", func(v float64) bool { return v > 1<<20 }, "> 1 MiB"},
	} {
		if v := sample(fams, c.metric, c.slave); !c.ok(v) {
			t.Errorf("%s{slave=%q} = %v, want %s", c.metric, c.slave, v, c.want)
		}
	}

	// every family is documented in docs/operations.md
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range fams {
		if strings.HasPrefix(name, "gridedge_") && !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("%s is not in docs/operations.md's metrics tables", name)
		}
	}

	// the device stops answering: errors move, the slave is down, and the
	// buffer keeps what the hub has not acknowledged
	errsBefore := sample(fams, "gridedge_agent_modbus_errors_total", name)
	l.Close()
	cancel()
	deadline = time.Now().Add(15 * time.Second)
	for {
		fams = scrapeAgent(t, a.MetricsAddr())
		if sample(fams, "gridedge_agent_modbus_errors_total", name) > errsBefore && sample(fams, "gridedge_agent_slave_up", name) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("errors did not move after the device went away: %v -> %v, up %v", errsBefore,
				sample(fams, "gridedge_agent_modbus_errors_total", name), sample(fams, "gridedge_agent_slave_up", name))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMetricsListenValidated(t *testing.T) {
	tests := []struct {
		listen, addr string
		valid        bool
	}{
		{"", "", true},
		{"9101", "127.0.0.1:9101", true},
		{"127.0.0.1:9101", "127.0.0.1:9101", true},
		{":9101", ":9101", true},
		{"[::1]:9101", "[::1]:9101", true},
		{"localhost", "localhost", false},
		{"99999", "99999", false},
	}
	for _, tt := range tests {
		m := MetricsConfig{Listen: tt.listen}
		if got := m.addr(); got != tt.addr {
			t.Errorf("addr(%q) = %q, want %q", tt.listen, got, tt.addr)
		}
		var es config.Errors
		m.validate(&es)
		if (len(es) == 0) != tt.valid {
			t.Errorf("validate(%q) = %v, want valid=%v", tt.listen, es, tt.valid)
		}
	}
}
