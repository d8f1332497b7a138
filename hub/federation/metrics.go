package federation

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The federation's metrics, read from the peers' status at scrape time
// (docs/federation.md lists them).
var (
	descLink = prometheus.NewDesc("gridedge_hub_federation_link_state",
		"1 for the current state of the link with a peer (up, down or unknown), 0 for the others.", []string{"peer", "state"}, nil)
	descExported = prometheus.NewDesc("gridedge_hub_federation_changes_exported_total",
		"Changes put into FED_OUT_<peer> (including those of the start-up reconciliation).", []string{"peer"}, nil)
	descReconciled = prometheus.NewDesc("gridedge_hub_federation_changes_reconciled_total",
		"Changes exported by the start-up reconciliation: committed here, missed by the change feed.", []string{"peer"}, nil)
	descNotSentBack = prometheus.NewDesc("gridedge_hub_federation_changes_not_sent_back_total",
		"Changes not exported to a peer because they came from it.", []string{"peer"}, nil)
	descImported = prometheus.NewDesc("gridedge_hub_federation_changes_imported_total",
		"Changes received from a peer and applied (including puts equal to the document here, not written again).", []string{"peer"}, nil)
	descDropped = prometheus.NewDesc("gridedge_hub_federation_changes_refused_total",
		"Changes received from a peer and not applied, by reason: looped (passed through here), policy (outside the import policy), failed (could not be applied).",
		[]string{"peer", "reason"}, nil)
	descExportPending = prometheus.NewDesc("gridedge_hub_federation_export_pending",
		"Changes in FED_OUT_<peer> the peer has not taken yet.", []string{"peer"}, nil)
	descImportPending = prometheus.NewDesc("gridedge_hub_federation_import_pending",
		"Changes of a peer received or waiting there, not applied yet.", []string{"peer"}, nil)
	descLag = prometheus.NewDesc("gridedge_hub_federation_import_lag_seconds",
		"Time from the export at the peer to the apply here of the last change of an imported layer.", []string{"peer", "layer"}, nil)
	descLastApplied = prometheus.NewDesc("gridedge_hub_federation_import_last_applied_timestamp_seconds",
		"When the last change of an imported layer was applied (Unix time; absent before the first since the start).", []string{"peer", "layer"}, nil)
	descHistory = prometheus.NewDesc("gridedge_hub_federation_history_points_total",
		"Points of past history: sent to a peer, or received from it and imported or refused by the history (older than its out-of-order window).",
		[]string{"peer", "direction"}, nil)
	descErrorAge = prometheus.NewDesc("gridedge_hub_federation_last_error_age_seconds",
		"Seconds since the last error of a peer's export or import (absent when none happened since the start).", []string{"peer"}, nil)
)

// collector reads the service's status at scrape time.
type collector struct{ s *Service }

// Collector returns the federation's metrics for the hub's registry.
func (s *Service) Collector() prometheus.Collector { return collector{s} }

// Describe sends every descriptor.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLink, descExported, descReconciled, descNotSentBack, descImported, descDropped,
		descExportPending, descImportPending, descLag, descLastApplied, descHistory, descErrorAge} {
		ch <- d
	}
}

// Collect sends the figures of every peer.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	now := time.Now()
	for _, p := range c.s.o.Config.Peers {
		st, ok := c.s.Status(p.Name)
		if !ok {
			continue
		}
		for _, state := range []string{"up", "down", "unknown"} {
			v := 0.0
			if st.Link == state {
				v = 1
			}
			gauge(descLink, v, p.Name, state)
		}
		if len(p.Export) > 0 {
			counter(descExported, st.Exported, p.Name)
			counter(descReconciled, st.Reconciled, p.Name)
			counter(descNotSentBack, st.NotSentBack, p.Name)
			gauge(descExportPending, float64(st.ExportPending), p.Name)
			counter(descHistory, st.HistorySent, p.Name, "sent")
		}
		if len(p.Import) > 0 {
			counter(descImported, st.Applied, p.Name)
			counter(descDropped, st.Looped, p.Name, "looped")
			counter(descDropped, st.Refused, p.Name, "policy")
			counter(descDropped, st.Failed, p.Name, "failed")
			gauge(descImportPending, float64(st.Pending), p.Name)
			counter(descHistory, st.HistoryImported, p.Name, "imported")
			counter(descHistory, st.HistoryRefused, p.Name, "refused")
			layers := make([]string, 0, len(p.Import))
			for _, im := range p.Import {
				layers = append(layers, im.Local())
			}
			slices.Sort(layers)
			for _, l := range slices.Compact(layers) {
				ls, ok := st.Imports[l]
				if !ok || ls.LastApplied.IsZero() {
					continue
				}
				gauge(descLag, float64(ls.LagMillis)/1000, p.Name, l)
				gauge(descLastApplied, float64(ls.LastApplied.UnixNano())/1e9, p.Name, l)
			}
		}
		if !st.LastErrorAt.IsZero() {
			gauge(descErrorAge, now.Sub(st.LastErrorAt).Seconds(), p.Name)
		}
	}
}
