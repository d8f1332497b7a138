package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store/mongo"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/shared/config"
)

// store.maxQueryTime defaults to the mongo store's default and reaches the
// mongo store the hub opens: every query it sends carries maxTimeMS of at
// most that (hub/store/mongo checks the commands sent).
func TestStoreMaxQueryTime(t *testing.T) {
	var c Config
	c.Defaults()
	if got := c.Store.MaxQueryTime.Std(); got != mongo.DefaultMaxQueryTime {
		t.Fatalf("default store.maxQueryTime = %s, want %s", got, mongo.DefaultMaxQueryTime)
	}
	p := writeConfig(t, "store:\n  maxQueryTime: 1500ms\n")
	lc, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := lc.Store.MaxQueryTime.Std(); got != 1500*time.Millisecond {
		t.Fatalf("store.maxQueryTime from the file = %s, want 1.5s", got)
	}

	uri, _ := mongotest.URI(t)
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	cfg := testConfig(t, t.TempDir())
	cfg.Store = StoreConfig{Backend: "mongo", MongoURI: uri, Database: mongotest.DatabaseName(),
		MaxQueryTime: config.Duration(1500 * time.Millisecond)}
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st := h.Store()
	if r, ok := st.(*history.Recorder); ok { // history on: the recorder wraps the backend
		st = r.Store
	}
	ms, ok := st.(*mongo.Store)
	if !ok {
		t.Fatalf("the hub's store is a %T, want *mongo.Store", st)
	}
	if got := ms.MaxQueryTime(); got != 1500*time.Millisecond {
		t.Fatalf("the mongo store's query time cap = %s, want 1.5s from store.maxQueryTime", got)
	}
}
