package history

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb/wlog"
)

// A backlog replayed behind live data is all out of order. Its
// write-behind log is compacted into blocks once it passes the bound,
// with every point still there, also after a restart; without the bound
// it stays in the log.
func TestOutOfOrderBacklogIsCompacted(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name       string
		bound      int64
		wantBlocks bool
	}{
		{"bounded", limit, true},
		{"only with the head", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			db, err := OpenTSDB(TSDBOptions{Dir: dir, OutOfOrderWindow: 48 * time.Hour, OOOCompactBytes: tt.bound, OOOCheckEvery: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			// live data first (a heartbeat), then 6 h of a day-old backlog of 3 meters
			if _, err := db.Append(ctx, []Sample{sample("edge", "measurements.online", 0, 1.0, 1)}); err != nil {
				t.Fatal(err)
			}
			const span = 6 * 3600
			ids := []string{"M1", "M2", "M3"}
			batch := make([]Sample, 0, 1000)
			for sec := -24 * 3600; sec < -24*3600+span; sec++ {
				for k, id := range ids {
					batch = append(batch, sample(id, "measurements.p", sec, float64((sec+k)%500)/10, 1))
				}
				if len(batch) >= 900 {
					res, err := db.Append(ctx, batch)
					if err != nil || res.Refused != 0 {
						t.Fatalf("append the backlog: %+v, %v", res, err)
					}
					batch = batch[:0]
				}
			}
			if _, err := db.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
			wbl := filepath.Join(dir, wlog.WblDirName)
			if tt.wantBlocks {
				deadline := time.Now().Add(30 * time.Second)
				for db.oooCompactions.Load() == 0 || dirSize(wbl) >= limit {
					if time.Now().After(deadline) {
						t.Fatalf("after 30 s: %d compactions, write-behind log %d bytes (bound %d)", db.oooCompactions.Load(), dirSize(wbl), limit)
					}
					time.Sleep(20 * time.Millisecond)
				}
			} else if n := dirSize(wbl); n < limit {
				t.Fatalf("write-behind log %d bytes: the backlog is too small to test the bound", n)
			}
			if got := len(db.DB().Blocks()) > 0; got != tt.wantBlocks {
				t.Errorf("blocks on disk: %v, want %v", got, tt.wantBlocks)
			}
			check := func(db *TSDB, when string) {
				got := map[string]int{}
				err := db.Select(ctx, Query{Layer: "demo", Collection: "meters", IDs: ids, Fields: []string{"measurements.p"}}, func(s Series) error {
					for range s.Points {
						got[s.ID]++
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range ids {
					if got[id] != span {
						t.Errorf("%s: %s has %d points, want %d", when, id, got[id], span)
					}
				}
			}
			check(db, "before a restart")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = OpenTSDB(TSDBOptions{Dir: dir, OutOfOrderWindow: 48 * time.Hour, OOOCompactBytes: -1}); err != nil {
				t.Fatal(err)
			}
			check(db, "after a restart")
		})
	}
}
