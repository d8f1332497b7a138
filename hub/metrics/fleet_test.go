package metrics

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

// TestFleetFromStore reads edge records as the fleet view stores them.
func TestFleetFromStore(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	read := FleetFromStore(st, []string{"never"}, 5*time.Second, func() time.Time { return time.Unix(1000, 0).UTC() })
	// before the fleet view made its collection: configured edges are offline
	if got, err := read(ctx); err != nil || len(got) != 1 || got[0].Online {
		t.Fatalf("without records: %v, %v; want edge never offline", got, err)
	}
	if err := fleet.EnsureLayer(ctx, st, fleet.Collection); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0).UTC()
	docs := []store.Document{
		{"_id": "fresh", "receivedAt": now.Add(-10 * time.Second)},
		{"_id": "stale", "receivedAt": now.Add(-16 * time.Second)},
		{"_id": "marked-offline", "receivedAt": now, "state": "offline"},
		{"_id": "marked-online", "receivedAt": now.Add(-time.Hour), "state": "online"},
	}
	if _, err := st.Bulk(ctx, fleet.Layer, fleet.Collection, docs, false); err != nil {
		t.Fatal(err)
	}
	got, err := read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"fresh": true, "stale": false, "marked-offline": false, "marked-online": true, "never": false}
	if len(got) != len(want) {
		t.Fatalf("got %d edges %v, want %d", len(got), got, len(want))
	}
	for _, e := range got {
		if w, ok := want[e.Edge]; !ok || e.Online != w {
			t.Errorf("edge %s online = %v, want %v", e.Edge, e.Online, w)
		}
		if e.Edge == "fresh" && !e.LastSeen.Equal(now.Add(-10*time.Second)) {
			t.Errorf("fresh last seen = %v", e.LastSeen)
		}
	}
}
