// Package buffer is the edge agent's store-and-forward queue: an append-only,
// bbolt-backed queue of document updates keyed by a per-edge sequence number
// that survives restarts. Nothing leaves the queue before the hub has
// acknowledged it.
//
// Durability: Append returns only after the updates are committed and synced
// to disk (bbolt fsyncs every commit); appends from concurrent goroutines are
// grouped into one transaction (group commit), so throughput does not depend on
// one fsync per reading.
//
// Bounds: the queue holds at most MaxUpdates updates and MaxBytes bytes, and
// updates older than MaxAge; past a bound the overflow policy applies
// (drop-oldest or reject-new) and every dropped update is counted.
package buffer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/shared/model"
)

// Overflow policies.
const (
	// DropOldest deletes the oldest unsent updates to make room (the default:
	// the newest state of the grid is usually worth more than the oldest).
	DropOldest = "drop-oldest"
	// RejectNew refuses new updates while the queue is full.
	RejectNew = "reject-new"
)

// Sentinel errors.
var (
	// ErrFull is returned by Append under the reject-new policy when the queue is full.
	ErrFull = errors.New("buffer full")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("buffer closed")
)

var (
	bucketQueue = []byte("queue")
	bucketMeta  = []byte("meta")
	keyNextSeq  = []byte("next_seq")
	keyCount    = []byte("count")
	keyBytes    = []byte("bytes")
	keyDropped  = []byte("dropped")
	keyRejected = []byte("rejected")
)

// Options configure a Buffer. Zero values take the defaults.
type Options struct {
	// MaxUpdates bounds the number of queued updates (default 10,000,000).
	MaxUpdates uint64
	// MaxBytes bounds the encoded size of queued updates (default 1 GiB).
	MaxBytes uint64
	// MaxAge drops updates older than this when trimming (0: no age bound).
	MaxAge time.Duration
	// Overflow is DropOldest (default) or RejectNew.
	Overflow string
	// NoSync skips fsync on commit: faster, but a power cut may lose the most
	// recent appends. Off by default; for tests and benchmarks on tmpfs.
	NoSync bool
	// Logger receives overflow episodes; default slog.Default().
	Logger *slog.Logger
}

// Entry is one queued update in its encoded form.
type Entry struct {
	// Seq is the update's sequence number.
	Seq uint64
	// Data is the JSON encoding of the model.Update.
	Data json.RawMessage
}

// Stats describe the queue.
type Stats struct {
	// Depth is the number of queued updates.
	Depth uint64 `json:"depth"`
	// Bytes is their encoded size.
	Bytes uint64 `json:"bytes"`
	// FirstSeq is the sequence number of the oldest queued update (0 if empty).
	FirstSeq uint64 `json:"first_seq"`
	// NextSeq is the sequence number the next update will get.
	NextSeq uint64 `json:"next_seq"`
	// OldestTS is the ts of the oldest queued update (zero if empty).
	OldestTS time.Time `json:"oldest_ts"`
	// Dropped counts updates deleted unsent by the overflow or age policy, ever.
	Dropped uint64 `json:"dropped"`
	// Rejected counts updates refused by the reject-new policy, ever.
	Rejected uint64 `json:"rejected"`
}

// Buffer is the queue. It is safe for concurrent use.
type Buffer struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	notify   chan struct{}
	overflow bool // inside an overflow episode (for logging once)
}

// Open opens (or creates) the queue file path.
func Open(path string, opts Options) (*Buffer, error) {
	if opts.MaxUpdates == 0 {
		opts.MaxUpdates = 10_000_000
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.Overflow == "" {
		opts.Overflow = DropOldest
	}
	if opts.Overflow != DropOldest && opts.Overflow != RejectNew {
		return nil, fmt.Errorf("buffer: overflow policy %q is not %s or %s", opts.Overflow, DropOldest, RejectNew)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("buffer: create directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("buffer: open %s: %w (if the file is corrupt, move it aside and the agent starts a new queue; see docs/operations.md)", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketQueue); err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if m.Get(keyNextSeq) == nil {
			return putU64(m, keyNextSeq, 1)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("buffer: initialise %s: %w", path, err)
	}
	return &Buffer{db: db, opts: opts, log: opts.Logger, notify: make(chan struct{}, 1)}, nil
}

// Close closes the file.
func (b *Buffer) Close() error { return b.db.Close() }

// Notify returns a channel that receives a value after appends.
func (b *Buffer) Notify() <-chan struct{} { return b.notify }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func getU64(bk *bolt.Bucket, key []byte) uint64 {
	v := bk.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(bk *bolt.Bucket, key []byte, v uint64) error {
	return bk.Put(key, seqKey(v))
}

// Append durably queues updates and returns the sequence number of the first.
// Under reject-new, a queue without room for all of them returns ErrFull and
// queues none.
func (b *Buffer) Append(updates ...model.Update) (first uint64, err error) {
	if len(updates) == 0 {
		return 0, nil
	}
	enc := make([][]byte, len(updates))
	var size uint64
	for i := range updates {
		if enc[i], err = json.Marshal(&updates[i]); err != nil {
			return 0, fmt.Errorf("buffer: encode update %d: %w", i, err)
		}
		size += uint64(len(enc[i]))
	}
	var dropped uint64
	err = b.db.Batch(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		count, bytesNow := getU64(m, keyCount), getU64(m, keyBytes)
		n := uint64(len(updates))
		dropped, first = 0, 0 // Batch may run fn again
		if count+n > b.opts.MaxUpdates || bytesNow+size > b.opts.MaxBytes {
			if b.opts.Overflow == RejectNew {
				return putU64(m, keyRejected, getU64(m, keyRejected)+n)
			}
			c := q.Cursor()
			for k, v := c.First(); k != nil && (count+n > b.opts.MaxUpdates || bytesNow+size > b.opts.MaxBytes); k, v = c.First() {
				bytesNow -= uint64(len(v))
				count--
				dropped++
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		next := getU64(m, keyNextSeq)
		first = next
		for i := range enc {
			if err := q.Put(seqKey(next), enc[i]); err != nil {
				return err
			}
			next++
		}
		if err := putU64(m, keyNextSeq, next); err != nil {
			return err
		}
		if err := putU64(m, keyCount, count+n); err != nil {
			return err
		}
		if err := putU64(m, keyBytes, bytesNow+size); err != nil {
			return err
		}
		if dropped > 0 {
			return putU64(m, keyDropped, getU64(m, keyDropped)+dropped)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("buffer: append %d updates: %w", len(updates), err)
	}
	if first == 0 {
		b.episode(true, "buffer full: rejecting new updates (policy reject-new)", len(updates))
		return 0, ErrFull
	}
	if dropped > 0 {
		b.episode(true, "buffer full: dropping oldest unsent updates (policy drop-oldest)", int(dropped))
	} else {
		b.episode(false, "", 0)
	}
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return first, nil
}

// episode logs the start and end of an overflow episode once each.
func (b *Buffer) episode(over bool, msg string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if over && !b.overflow {
		b.log.Warn(msg, "updates", n, "max_updates", b.opts.MaxUpdates, "max_bytes", b.opts.MaxBytes)
	}
	if !over && b.overflow {
		b.log.Info("buffer has room again; overflow episode over")
	}
	b.overflow = over
}

// Peek returns up to max queued entries in sequence order, and at most
// maxBytes of data (but always at least one entry when the queue is not empty).
func (b *Buffer) Peek(max int, maxBytes int) ([]Entry, error) {
	var out []Entry
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		total := 0
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			if len(out) > 0 && total+len(v) > maxBytes {
				break
			}
			total += len(v)
			out = append(out, Entry{Seq: binary.BigEndian.Uint64(k), Data: bytes.Clone(v)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("buffer: read queue: %w", err)
	}
	return out, nil
}

// Ack deletes every queued update with a sequence number up to and including
// seq: the hub has acknowledged them.
func (b *Buffer) Ack(seq uint64) error { return b.ack(0, seq) }

func (b *Buffer) ack(first, seq uint64) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		count, bytesNow := getU64(m, keyCount), getU64(m, keyBytes)
		c := q.Cursor()
		if first > 0 && seq >= first {
			present := uint64(0)
			for k, _ := c.Seek(seqKey(first)); k != nil && binary.BigEndian.Uint64(k) <= seq; k, _ = c.Next() {
				present++
			}
			if gone := seq - first + 1 - present; gone > 0 {
				d := getU64(m, keyDropped)
				if err := putU64(m, keyDropped, d-min(gone, d)); err != nil {
					return err
				}
			}
		}
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, v = c.First() {
			count--
			bytesNow -= uint64(len(v))
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if err := putU64(m, keyCount, count); err != nil {
			return err
		}
		return putU64(m, keyBytes, bytesNow)
	})
	if err != nil {
		return fmt.Errorf("buffer: acknowledge up to %d: %w", seq, err)
	}
	return nil
}

// Rebase makes sure sequence numbers continue above hwm, the highest
// sequence number the hub has applied for this edge. When the hub has seen
// numbers this buffer never assigned (the buffer file was lost and
// recreated), the queued updates are renumbered to follow hwm, so that the
// hub does not skip them as replays. It returns by how much the sequence
// moved (0 in the normal case, where hwm < NextSeq).
func (b *Buffer) Rebase(hwm uint64) (uint64, error) {
	var shift uint64
	err := b.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		next := getU64(m, keyNextSeq)
		if hwm < next {
			shift = 0
			return nil
		}
		first := next // an empty queue: the next update gets hwm+1
		if k, _ := q.Cursor().First(); k != nil {
			first = binary.BigEndian.Uint64(k)
		}
		shift = hwm + 1 - first
		type kv struct {
			seq uint64
			v   []byte
		}
		var all []kv
		c := q.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			all = append(all, kv{binary.BigEndian.Uint64(k), bytes.Clone(v)})
		}
		// renumber from the highest down so new keys never collide with old ones
		for i := len(all) - 1; i >= 0; i-- {
			if err := q.Delete(seqKey(all[i].seq)); err != nil {
				return err
			}
			if err := q.Put(seqKey(all[i].seq+shift), all[i].v); err != nil {
				return err
			}
		}
		return putU64(m, keyNextSeq, next+shift)
	})
	if err != nil {
		return 0, fmt.Errorf("buffer: continue sequence after %d: %w", hwm, err)
	}
	if shift > 0 {
		b.log.Warn("the hub has applied sequence numbers this buffer never assigned (was the buffer file replaced?); renumbered the queued updates to follow them",
			"hub_high_water_mark", hwm, "shift", shift)
	}
	return shift, nil
}

// AckBatch acknowledges a batch the hub has taken: like Ack(last), and
// entries of [first, last] that are already gone were deleted by the
// overflow or age policy after the batch was read; they reached the hub all
// the same, so they are taken off the drop count. (Only those policies and
// acknowledgements delete entries, and acknowledgements come in order.)
func (b *Buffer) AckBatch(first, last uint64) error {
	return b.ack(first, last)
}

// TrimAge drops queued updates older than MaxAge (no-op without MaxAge) and
// returns how many it dropped.
func (b *Buffer) TrimAge(now time.Time) (uint64, error) {
	if b.opts.MaxAge <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-b.opts.MaxAge)
	var dropped uint64
	err := b.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		count, bytesNow := getU64(m, keyCount), getU64(m, keyBytes)
		c := q.Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			var u struct {
				TS time.Time `json:"ts"`
			}
			if json.Unmarshal(v, &u) == nil && !u.TS.Before(cutoff) {
				break
			}
			count--
			bytesNow -= uint64(len(v))
			dropped++
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if dropped == 0 {
			return nil
		}
		if err := putU64(m, keyCount, count); err != nil {
			return err
		}
		if err := putU64(m, keyBytes, bytesNow); err != nil {
			return err
		}
		return putU64(m, keyDropped, getU64(m, keyDropped)+dropped)
	})
	if err != nil {
		return 0, fmt.Errorf("buffer: drop updates older than %s: %w", b.opts.MaxAge, err)
	}
	if dropped > 0 {
		b.log.Warn("dropped unsent updates older than the age bound", "updates", dropped, "max_age", b.opts.MaxAge)
	}
	return dropped, nil
}

// Stats returns the queue's counters.
func (b *Buffer) Stats() (Stats, error) {
	var s Stats
	err := b.db.View(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		s.Depth, s.Bytes = getU64(m, keyCount), getU64(m, keyBytes)
		s.NextSeq = getU64(m, keyNextSeq)
		s.Dropped, s.Rejected = getU64(m, keyDropped), getU64(m, keyRejected)
		if k, v := q.Cursor().First(); k != nil {
			s.FirstSeq = binary.BigEndian.Uint64(k)
			var u struct {
				TS time.Time `json:"ts"`
			}
			if json.Unmarshal(v, &u) == nil {
				s.OldestTS = u.TS
			}
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("buffer: stats: %w", err)
	}
	return s, nil
}
