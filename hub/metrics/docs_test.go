package metrics

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
)

var metricName = regexp.MustCompile(`gridedge_[a-z_]+`)

// documented returns the metric names of docs/operations.md's tables.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `gridedge_") {
			out[metricName.FindString(line)] = true
		}
	}
	return out
}

// TestEveryHubMetricIsDocumented gathers a registry whose sources all
// answer and checks each gridedge_ family against docs/operations.md.
func TestEveryHubMetricIsDocumented(t *testing.T) {
	m := New(Sources{
		Edges:         []string{"e1"},
		Ingest:        func(string) ingest.EdgeStats { return ingest.EdgeStats{Applied: 1, LastApplied: time.Now()} },
		IngestEdges:   func() []string { return nil },
		History:       func() history.Stats { return history.Stats{} },
		HistoryErrors: func() uint64 { return 0 },
		DDPSessions:   func() (int, uint64) { return 0, 0 },
		Fleet: func(context.Context) ([]EdgeHealth, error) {
			return []EdgeHealth{{Edge: "e1", Online: true, LastSeen: time.Now()}}, nil
		},
	})
	m.ObserveRequest("GET", "/api/v2/health", 200, time.Millisecond)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	docs := documented(t)
	n := 0
	for _, f := range fams {
		if name := f.GetName(); strings.HasPrefix(name, "gridedge_") {
			n++
			if !docs[name] {
				t.Errorf("%s is not in docs/operations.md's metrics tables", name)
			}
		}
	}
	if n < 18 {
		t.Errorf("gathered %d gridedge_ families, want every one (18)", n)
	}
}

// TestDashboardUsesDocumentedMetrics: docs/grafana-dashboard.json is valid
// JSON and every metric its queries use is documented.
func TestDashboardUsesDocumentedMetrics(t *testing.T) {
	data, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	docs := documented(t)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(name, "_bucket")
				if !docs[base] {
					t.Errorf("panel %q uses %s, which docs/operations.md does not list", p.Title, name)
				}
			}
		}
	}
	if queries == 0 {
		t.Error("the dashboard has no queries")
	}
}
