package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
)

// openHistory opens the configured history backend.
func openHistory(cfg *Config, log *slog.Logger) (history.Store, error) {
	hc := cfg.History
	switch hc.Backend {
	case history.BackendRemote:
		return history.OpenRemote(history.RemoteOptions{WriteURL: hc.Remote.WriteURL, ReadURL: hc.Remote.ReadURL, Logger: log})
	default:
		db, err := history.OpenTSDB(history.TSDBOptions{
			Dir: filepath.Join(cfg.DataDir, "history"), Retention: hc.Retention.Std(), RetentionSize: hc.RetentionSize,
			OutOfOrderWindow: hc.OutOfOrderWindow.Std(), Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("open the history: %w", err)
		}
		return db, nil
	}
}

// edgeStats adds the history's refusals to the applier's counters of an edge.
func (h *Hub) edgeStats(edge string) ingest.EdgeStats {
	s := h.applier.EdgeStats(edge)
	s.HistoryRefused = h.rec.Refused(edge)
	return s
}

// History is the hub's measurement history.
func (h *Hub) History() history.Store { return h.hist }

// startHistoryNATS answers <domain>.storage.history on the hub's
// in-process connection.
func startHistoryNATS(h *Hub) error {
	r, err := history.ServeNATS(h.nc, h.cfg.Domain, h.hist, h.st, h.log)
	if err != nil {
		return fmt.Errorf("start the history responder: %w", err)
	}
	h.hNATS = r
	return nil
}
