package federation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gridedge/gridedge/hub/store"
)

// scrape serves d's federation metrics as a hub's /metrics does and parses
// them with Prometheus's text parser.
func scrape(t *testing.T, d *deployment) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(d.svc.Collector()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the Prometheus text parser refused the federation metrics: %v", err)
	}
	return fams
}

// sample is the value of family name's sample whose labels include every
// pair of want (-1: none).
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
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
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	a, b := pairAB(t, "", "")
	a.layer(t, "dso", "substations")
	if _, err := a.st.Insert(ctx, "dso", "substations", []store.Document{{"_id": "s1"}, {"_id": "s2"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to apply both", 20*time.Second, func() bool { st, _ := b.svc.Status("a"); return st.Applied == 2 })
	waitFor(t, "both ends to see the link up", 20*time.Second, func() bool {
		b.svc.refreshLink(ctx, "a")
		a.svc.refreshLink(ctx, "b")
		sa, _ := a.svc.Status("b")
		sb, _ := b.svc.Status("a")
		return sa.Link == "up" && sb.Link == "up"
	})
	b.svc.fail("a", errTest)

	am, bm := scrape(t, a), scrape(t, b)
	checks := []struct {
		name   string
		fams   map[string]*dto.MetricFamily
		metric string
		labels []string
		want   func(float64) bool
	}{
		{"A exported", am, "gridedge_hub_federation_changes_exported_total", []string{"peer", "b"}, eq(2)},
		{"A reconciled nothing", am, "gridedge_hub_federation_changes_reconciled_total", []string{"peer", "b"}, eq(0)},
		{"A's link up", am, "gridedge_hub_federation_link_state", []string{"peer", "b", "state", "up"}, eq(1)},
		{"A's link not down", am, "gridedge_hub_federation_link_state", []string{"peer", "b", "state", "down"}, eq(0)},
		{"A imports nothing", am, "gridedge_hub_federation_changes_imported_total", nil, eq(-1)},
		{"B imported", bm, "gridedge_hub_federation_changes_imported_total", []string{"peer", "a"}, eq(2)},
		{"B refused none by policy", bm, "gridedge_hub_federation_changes_refused_total", []string{"peer", "a", "reason", "policy"}, eq(0)},
		{"B's link up", bm, "gridedge_hub_federation_link_state", []string{"peer", "a", "state", "up"}, eq(1)},
		{"B's lag", bm, "gridedge_hub_federation_import_lag_seconds", []string{"peer", "a", "layer", "city-dso"},
			func(v float64) bool { return v >= 0 && v < 20 }},
		{"B's last apply", bm, "gridedge_hub_federation_import_last_applied_timestamp_seconds", []string{"peer", "a", "layer", "city-dso"},
			func(v float64) bool { return time.Since(time.Unix(int64(v), 0)) < time.Minute }},
		{"B's error age", bm, "gridedge_hub_federation_last_error_age_seconds", []string{"peer", "a"},
			func(v float64) bool { return v >= 0 && v < 60 }},
		{"A has had no error", am, "gridedge_hub_federation_last_error_age_seconds", nil, eq(-1)},
		{"A sent no past history", am, "gridedge_hub_federation_history_points_total", []string{"peer", "b", "direction", "sent"}, eq(0)},
		{"B imported no past history", bm, "gridedge_hub_federation_history_points_total", []string{"peer", "a", "direction", "imported"}, eq(0)},
		{"B pending", bm, "gridedge_hub_federation_import_pending", []string{"peer", "a"}, eq(0)},
	}
	for _, c := range checks {
		if v := sample(c.fams, c.metric, c.labels...); !c.want(v) {
			t.Errorf("%s: %s%v = %v", c.name, c.metric, c.labels, v)
		}
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

var errTest = &testError{}

type testError struct{}

func (*testError) Error() string { return "a test error" }

// TestMetricsAreDocumented: every family of the collector is in
// docs/federation.md's metrics table.
func TestMetricsAreDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/federation.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	name := regexp.MustCompile("^\\| `(gridedge_[a-z_]+)")
	for _, line := range strings.Split(string(data), "\n") {
		if m := name.FindStringSubmatch(line); m != nil {
			documented[m[1]] = true
		}
	}
	ch := make(chan *prometheus.Desc, 32)
	(collector{}).Describe(ch)
	close(ch)
	n := 0
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		n++
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		if !documented[m[1]] {
			t.Errorf("%s is not in docs/federation.md's metrics table", m[1])
		}
	}
	if n != 12 {
		t.Errorf("described %d families, want 12", n)
	}
}

// TestExportPending: the exporting side counts the changes its peer has
// not taken (from the peer's sourcing consumer, which the JetStream API
// does not list): 5 while the link is cut after 5 writes, 0 once the peer
// caught up.
func TestExportPending(t *testing.T) {
	ctx := context.Background()
	a := startDeployment(t, "a", Config{Peers: []Peer{{Name: "b", Credentials: linkAB, Export: []Grant{{Layer: "dso"}}}}}, "")
	px := newProxy(t, strings.TrimPrefix(a.leaf, "nats-leaf://"))
	b := startDeployment(t, "b", Config{Peers: []Peer{{Name: "a", URL: "nats-leaf://" + px.addr, Credentials: linkAB,
		Import: []Import{{Grant: Grant{Layer: "dso"}}}}}}, "")
	a.layer(t, "dso", "meters")
	insert := func(id string) {
		if _, err := a.st.Insert(ctx, "dso", "meters", []store.Document{{"_id": id}}); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() uint64 {
		a.svc.refreshLink(ctx, "b")
		st, _ := a.svc.Status("b")
		return st.ExportPending
	}
	insert("m0")
	waitFor(t, "m0 at B", 20*time.Second, func() bool { return b.doc("dso", "meters", "m0") != nil })
	waitFor(t, "nothing pending", 10*time.Second, func() bool { return pending() == 0 })
	px.cut()
	for i := 1; i <= 5; i++ {
		insert(fmt.Sprintf("m%d", i))
	}
	waitFor(t, "5 pending while the link is cut", 10*time.Second, func() bool { return pending() == 5 })
	px.restore()
	waitFor(t, "m5 at B", 60*time.Second, func() bool { return b.doc("dso", "meters", "m5") != nil })
	waitFor(t, "nothing pending once B caught up", 10*time.Second, func() bool { return pending() == 0 })
}
