package history

import (
	"context"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/tsdb/wlog"
)

// DefaultOOOCompactBytes is the size of the write-behind log (the
// out-of-order samples not yet in blocks) at which the engine compacts
// them into blocks without waiting for its head to compact.
const DefaultOOOCompactBytes = 256 << 20

// oooCheckEvery is how often the write-behind log's size is looked at.
const oooCheckEvery = 10 * time.Second

// Prometheus' TSDB compacts out-of-order samples only after it compacts
// its in-order head, which happens once the head spans 3 h of samples
// (every 2 h on a hub that has run that long). Until then they stay in the
// write-behind log, in memory-mapped head chunks and in the WAL. An edge
// replaying a day's backlog sends every sample out of order (the live
// heartbeats moved the head past them) at ~200,000 readings/s: without a
// bound that is ~25 bytes a reading on disk, ~32 GB for a day of 500
// devices × 30 tags, and the head's memory, before the first compaction.
// bindOutOfOrder compacts the out-of-order head whenever its log passes
// limit bytes, which keeps it, and what it costs, bounded.
func (s *TSDB) bindOutOfOrder(limit int64, every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	s.oooCancel, s.oooDone = cancel, make(chan struct{})
	go func() {
		defer close(s.oooDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n := dirSize(filepath.Join(s.db.Dir(), wlog.WblDirName))
			if n < limit {
				continue
			}
			start := time.Now()
			if err := s.db.CompactOOOHead(ctx); err != nil {
				if ctx.Err() == nil {
					s.log.Error("history: compacting out-of-order samples", "wbl_bytes", n, "err", err)
				}
				continue
			}
			s.oooCompactions.Add(1)
			s.log.Info("history: compacted out-of-order samples into blocks", "wbl_bytes", n,
				"wbl_bytes_after", dirSize(filepath.Join(s.db.Dir(), wlog.WblDirName)), "took", time.Since(start).Round(time.Millisecond))
		}
	}()
}

// dirSize is the size of the regular files under dir (0 when missing).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n
}
