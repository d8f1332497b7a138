package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/store"
)

// openHistory opens the configured history backend, after moving into it
// the per-reading history documents an earlier version left in st.
func openHistory(ctx context.Context, cfg *Config, st store.Store, log *slog.Logger) (history.Store, error) {
	hc := cfg.History
	legacy, _ := st.(store.LegacyHistory)
	switch hc.Backend {
	case history.BackendRemote:
		r, err := history.OpenRemote(history.RemoteOptions{WriteURL: hc.Remote.WriteURL, ReadURL: hc.Remote.ReadURL, Logger: log})
		if err != nil {
			return nil, err
		}
		if legacy != nil {
			if _, err := history.MigrateLegacy(ctx, legacy, r, log); err != nil {
				return nil, legacyError(err)
			}
		}
		return r, nil
	default:
		dir := filepath.Join(cfg.DataDir, "history")
		if legacy != nil {
			bf, err := history.NewBackfill(dir, hc.Retention.Std(), log)
			if err != nil {
				return nil, legacyError(err)
			}
			if _, err := history.MigrateLegacy(ctx, legacy, bf, log); err != nil {
				return nil, legacyError(err)
			}
		}
		db, err := history.OpenTSDB(history.TSDBOptions{
			Dir: dir, Retention: hc.Retention.Std(), RetentionSize: hc.RetentionSize,
			OutOfOrderWindow: hc.OutOfOrderWindow.Std(), Logger: log, Downsample: hc.Downsample,
		})
		if err != nil {
			return nil, fmt.Errorf("open the history: %w", err)
		}
		return db, nil
	}
}

// legacyError says what a failed migration of legacy history means.
func legacyError(err error) error {
	return fmt.Errorf("the store holds per-reading history of an earlier version (bolt bucket \"history\" of a collection, "+
		"or MongoDB collections <layer>_<collection>.history), which the hub moves into its history store at start; "+
		"that failed and nothing was dropped: fix the cause and start the hub again: %w", err)
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
