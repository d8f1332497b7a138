package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
	"github.com/gridedge/gridedge/shared/subject"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongotest.Stop()
	os.Exit(code)
}

// A hub on the mongo backend serves REST writes, and every committed write
// is announced on <domain>.storage.changed.<layer>.<collection>.
func TestHubOnMongoPublishesChanges(t *testing.T) {
	uri, _ := mongotest.URI(t)
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	cfg := testConfig(t, t.TempDir())
	cfg.Store = StoreConfig{Backend: "mongo", MongoURI: uri, Database: mongotest.DatabaseName()}
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nc, err := h.Broker().Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(subject.StorageChangedAll(cfg.Domain))
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	base := "http://" + h.HTTPAddr() + "/api/v2"
	_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	if code, m := call(t, "POST", base+"/demo/meters", map[string]any{"_id": "M1", "v": 1}, hdr); code != 200 {
		t.Fatalf("insert: %d %v", code, m)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no change event: %v", err)
	}
	var c store.Change
	if err := json.Unmarshal(msg.Data, &c); err != nil {
		t.Fatal(err)
	}
	if msg.Subject != subject.StorageChanged(cfg.Domain, "demo", "meters") || c.Op != store.OpInsert || c.ID != "M1" {
		t.Fatalf("change event on %s: %+v", msg.Subject, c)
	}
	if _, err := h.Store().Get(context.Background(), "demo", "meters", "M1"); err != nil {
		t.Fatalf("document not in the mongo store: %v", err)
	}
}

func TestStoreConfigValidation(t *testing.T) {
	for _, sc := range []StoreConfig{{Backend: "postgres"}, {Backend: "mongo"}} {
		t.Setenv(EnvMongoURI, "")
		c := &Config{Store: sc}
		c.Defaults()
		if err := c.Validate(); err == nil {
			t.Errorf("store %+v: want an error", sc)
		}
	}
}
