package daemon

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// A hub started on a data directory holding the per-reading history of an
// earlier version (hub/history/testdata/legacy-hub.db.gz) moves it into the
// tsdb and drops it; the history answers over <domain>.storage.history.
func TestStartMigratesLegacyHistory(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open(filepath.Join("..", "history", "testdata", "legacy-hub.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	out.Close()
	f.Close()

	cfg := testConfig(t, dir)
	cfg.History.Retention = config.Duration(10 * 365 * 24 * time.Hour) // the fixture is from 2024
	var logs syncBuffer
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			h.Close()
		}
	}()
	if !strings.Contains(logs.String(), "legacy history migrated and dropped") {
		t.Errorf("the migration is not logged: %s", logs.String())
	}
	nc, err := h.Broker().Connect("history-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request(subject.StorageHistory(cfg.Domain),
		[]byte(`{"layer":"site","collection":"meters","id":"M1","fields":"measurements.count","from":"2024-01-01","to":"2024-01-01T01:00:00Z","step":"1h","agg":"count"}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Status string `json:"status"`
		Data   []struct {
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &a); err != nil || a.Status != "success" || len(a.Data) != 1 || len(a.Data[0].Points) != 1 || a.Data[0].Points[0][1] != 60.0 {
		t.Fatalf("storage.history after the migration: got %s, want 60 counts of M1 in one step", msg.Data)
	}
	h.Close()
	closed = true
	st, err := bolt.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var lh store.LegacyHistory = st
	if cols, err := lh.LegacyHistoryCollections(context.Background()); err != nil || len(cols) != 0 {
		t.Fatalf("legacy history after the start: got %v, %v, want none", cols, err)
	}
}
