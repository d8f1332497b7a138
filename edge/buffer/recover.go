package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Recovery describes the replacement of a corrupt buffer file. It is kept
// in the fresh file, so the heartbeat reports it after restarts too.
type Recovery struct {
	// At is when the corrupt file was moved aside.
	At time.Time `json:"at"`
	// File is where it was moved (path.corrupt-<time>); the updates in it
	// that had not reached the hub are lost. How many cannot be known from
	// a file that cannot be read: at most the depth of the last heartbeat
	// before the corruption. The fresh queue continues above the hub's
	// high-water mark (Rebase), so what it holds is not taken for replays.
	File string `json:"file"`
	// Reason is the error that showed the corruption.
	Reason string `json:"reason"`
}

// corruptOpenError reports whether bolt.Open failed because of the file's
// content (rather than, say, a lock held by another process or a
// permission).
func corruptOpenError(err error) bool {
	return errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) ||
		errors.Is(err, berrors.ErrChecksum) || strings.Contains(err.Error(), "file size too small")
}

// catchCorruption turns a panic or memory fault while reading the file
// (bbolt panics on pages that do not make sense) into ErrCorrupt. It must
// be deferred by the function that reads; it makes memory faults of the
// calling goroutine panics until that function returns.
func catchCorruption(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrCorrupt, r)
	}
}

// readGuarded runs fn with memory faults turned into panics and panics
// into ErrCorrupt: a truncated file read through mmap faults.
func readGuarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchCorruption(&err)
	return fn()
}

// replaceCorrupt moves the corrupt file at path aside and opens a fresh one
// in its place, recording the recovery in it.
func replaceCorrupt(path string, opts Options, cause error) (file, error) {
	now := time.Now().UTC()
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.Format("20060102T150405Z"))
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s.corrupt-%s.%d", path, now.Format("20060102T150405Z"), i)
	}
	if err := os.Rename(path, aside); err != nil {
		return file{}, fmt.Errorf("buffer: move the corrupt file %s aside: %w (cause: %w)", path, err, cause)
	}
	syncDir(filepath.Dir(path))
	rec := Recovery{At: now, File: aside, Reason: cause.Error()}
	opts.Logger.Error("BUFFER FILE CORRUPT: moved it aside and started a new queue; the updates it held that had not reached the hub are lost (buffer.recovered in the heartbeat)",
		"file", path, "moved_to", aside, "reason", cause)
	f, err := openFile(path, opts)
	if err != nil {
		return f, fmt.Errorf("buffer: start a new queue after moving the corrupt file aside: %w", err)
	}
	data, _ := json.Marshal(rec)
	err = f.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyRecover, data) })
	if err != nil {
		f.db.Close()
		return file{}, fmt.Errorf("buffer: record the recovery in the new queue: %w", err)
	}
	return f, nil
}

// syncDir makes a rename in dir durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
