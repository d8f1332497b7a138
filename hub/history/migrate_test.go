package history

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

// LegacyDataDir makes a hub data directory holding testdata/legacy-hub.db.gz
// (written by the version before the per-reading history was retired:
// layer site, meters M1 and M2 with voltage, count and status (a state)
// once a minute for an hour from 2024-01-01T00:00Z with a bad voltage at
// minute 30, status RUN then STOP from minute 40, 360 points from edge
// batches; assets A1 flow 12.5 at 00:00 from a REST insert) and returns
// its path.
func legacyDataDir(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "legacy-hub.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A data directory holding the per-reading history of an earlier version
// is migrated into the tsdb (blocks written by a backfill, loaded by
// OpenTSDB) with every measurement point, and the legacy bucket dropped; a
// second migration finds nothing.
func TestMigrateLegacyBolt(t *testing.T) {
	ctx := context.Background()
	dir := legacyDataDir(t)
	st, err := bolt.Open(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cols, err := st.LegacyHistoryCollections(ctx)
	if err != nil || len(cols) != 2 {
		t.Fatalf("legacy collections of the fixture: got %v, %v, want site/assets and site/meters", cols, err)
	}
	hdir := filepath.Join(dir, "history")
	// the fixture's points are from 2024: keep 10 years
	const retention = 10 * 365 * 24 * time.Hour
	bf, err := NewBackfill(hdir, retention, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := MigrateLegacy(ctx, st, bf, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2 meters × (60 voltages + 60 counts + 2 status changes) + 1 flow
	want := MigrateResult{Collections: 2, Points: 361, Written: 245, Unchanged: 2 * 58}
	if res != want {
		t.Fatalf("migration: got %+v, want %+v", res, want)
	}
	if bf.Blocks != 1 {
		t.Errorf("blocks written: %d, want 1", bf.Blocks)
	}
	if cols, err := st.LegacyHistoryCollections(ctx); err != nil || len(cols) != 0 {
		t.Fatalf("after the migration: got %v, %v, want no legacy history", cols, err)
	}
	again, err := MigrateLegacy(ctx, st, bf, nil)
	if err != nil || again != (MigrateResult{}) {
		t.Fatalf("second migration: got %+v, %v, want nothing done", again, err)
	}

	db, err := OpenTSDB(TSDBOptions{Dir: hdir, Retention: retention})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	got := collect(t, db, Query{Layer: "site", Collection: "meters", From: t0, To: t0.Add(time.Hour)})
	if len(got) != 6 {
		t.Fatalf("series after the migration: got %d (%v), want 6", len(got), keys(got))
	}
	if s := got["M1 measurements.status"]; s != `[["2024-01-01T00:00:00.000Z","RUN",1],["2024-01-01T00:40:00.000Z","STOP",1]]` {
		t.Errorf("status of M1: got %s", s)
	}
	if s := got["M2 measurements.voltage"]; strings.Count(s, "],[")+1 != 60 || !strings.Contains(s, `["2024-01-01T00:30:00.000Z",230.2,0]`) {
		t.Errorf("voltage of M2: want 60 points with the bad one at 00:30, got %s", s)
	}
	if s := collect(t, db, Query{Layer: "site", Collection: "assets", From: t0, To: t0.Add(time.Hour)})["A1 measurements.flow"]; s != `[["2024-01-01T00:00:00.000Z",12.5,1]]` {
		t.Errorf("flow of A1 (a REST write): got %s", s)
	}
	// beyond the retention: refused, counted
	bf2, err := NewBackfill(t.TempDir(), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := bf2.Append(ctx, []Sample{{Layer: "site", Collection: "meters", ID: "M1", Field: "measurements.count", T: t0, Value: 1.0, Quality: 1}}); err != nil || r.Refused != 1 || !strings.Contains(r.FirstRefusal, "older than the retention") {
		t.Errorf("a sample beyond the retention: got %+v, %v, want refused", r, err)
	}
	// the store still has its documents
	if d, err := st.Get(ctx, "site", "meters", "M1"); err != nil || d["measurements"] == nil {
		t.Errorf("document M1 after the migration: %v, %v", d, err)
	}
}

// A migration that fails leaves the legacy history in place.
func TestMigrateLegacyFailureKeepsIt(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(legacyDataDir(t), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := openTest(t, t.TempDir())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := MigrateLegacy(ctx, st, db, nil); err == nil || !strings.Contains(err.Error(), "legacy history of site_") {
		t.Fatalf("migrating into a closed store: got %v, want an error naming the collection", err)
	}
	if cols, err := st.LegacyHistoryCollections(ctx); err != nil || len(cols) != 2 {
		t.Fatalf("after a failed migration: got %v, %v, want both collections kept", cols, err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var _ store.LegacyHistory = (*bolt.Store)(nil)
