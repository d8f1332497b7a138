package buffer

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Compact rewrites the file when it is much larger than its live data, and
// reports whether it did. bbolt never gives pages back to the file system:
// after a long outage drains, buffer.db keeps the size of the backlog. The
// file is compacted when it holds more than CompactSlack bytes beyond
// twice its live pages, so after Compact its size is at most twice the
// live data plus CompactSlack. Appends, reads and acknowledgements wait
// while it runs, so it copies at most CompactMaxLive bytes of live data:
// with more queued (a backlog still draining) it waits. The agent calls it
// once a minute.
func (b *Buffer) Compact() (bool, error) {
	b.dbmu.RLock()
	size, live, err := b.sizes()
	b.dbmu.RUnlock()
	if err != nil {
		return false, err
	}
	if size <= 2*live+int64(b.opts.CompactSlack) || live > int64(b.opts.CompactMaxLive) {
		return false, nil
	}
	return true, b.compact()
}

// sizes returns the file's size and the bytes of its pages in use; dbmu
// must be held.
func (b *Buffer) sizes() (size, live int64, err error) {
	fi, err := os.Stat(b.path)
	if err != nil {
		return 0, 0, fmt.Errorf("buffer: size of %s: %w", b.path, err)
	}
	st := b.db.Stats()
	err = b.db.View(func(tx *bolt.Tx) error {
		free := int64(st.FreePageN+st.PendingPageN) * int64(b.db.Info().PageSize)
		live = tx.Size() - free
		return nil
	})
	return fi.Size(), live, err
}

// compact copies the live data into path.compact, renames it over the file
// and reopens it. Should anything fail before the rename, the old file
// stays in use.
func (b *Buffer) compact() error {
	b.dbmu.Lock()
	defer b.dbmu.Unlock()
	start := time.Now()
	before, _, _ := b.sizes()
	tmp := b.path + ".compact"
	_ = os.Remove(tmp) // left by a crash during an earlier compaction
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second, NoSync: b.opts.NoSync})
	if err != nil {
		return fmt.Errorf("buffer: compact: create %s: %w", tmp, err)
	}
	if err := bolt.Compact(dst, b.db, 16<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("buffer: compact %s: %w", b.path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("buffer: compact: sync %s: %w", tmp, err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("buffer: compact: close %s: %w", tmp, err)
	}
	if err := b.db.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("buffer: compact: close %s: %w", b.path, err)
	}
	renameErr := os.Rename(tmp, b.path)
	if renameErr == nil {
		syncDir(filepath.Dir(b.path))
	} else {
		os.Remove(tmp)
	}
	// reopen whichever file is at path now: the compacted one, or the old one
	db, err := bolt.Open(b.path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: b.opts.NoSync})
	if err != nil {
		return fmt.Errorf("buffer: compact: reopen %s: %w", b.path, err)
	}
	db.MaxBatchDelay = b.opts.GroupCommitDelay
	b.db = db
	if renameErr != nil {
		return fmt.Errorf("buffer: compact: replace %s: %w", b.path, renameErr)
	}
	b.compactions++
	after, _, _ := b.sizes()
	b.log.Info("buffer file compacted", "file", b.path, "bytes_before", before, "bytes_after", after, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
