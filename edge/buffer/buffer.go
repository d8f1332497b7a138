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
// Encoding: updates are stored in the compact binary form of shared/wire
// (a few bytes per reading), and those bytes are what the forwarder sends.
// The strings they refer to (layers, collections, ids, field names) live in
// the file's dictionary bucket, written in the same transaction as the
// updates that first use them; ids are never reused. A file written by an
// earlier version holds JSON updates: Peek converts them as they are read,
// so the backlog drains after an upgrade.
//
// Bounds: the queue holds at most MaxUpdates updates and MaxBytes bytes, and
// updates older than MaxAge; past a bound the overflow policy applies
// (drop-oldest or reject-new) and every dropped update is counted.
//
// Failures: an Append the disk refuses (full disk, I/O error) is counted in
// Stats.Refused; the age bound only drops what both the wall clock and the
// process's monotonic clock say is old (arrival.go); a file much larger than
// its live data is compacted (compact.go); a corrupt file is moved aside and
// replaced by a fresh one (recover.go).
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
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/wire"
)

// Overflow policies.
const (
	// DropOldest deletes the oldest unsent updates to make room (the default:
	// the newest state of the grid is usually worth more than the oldest).
	DropOldest = "drop-oldest"
	// RejectNew refuses new updates while the queue is full.
	RejectNew = "reject-new"
)

var (
	bucketQueue = []byte("queue")
	bucketMeta  = []byte("meta")
	bucketDict  = []byte("dict") // string id (8 bytes big-endian) → string
	keyNextSeq  = []byte("next_seq")
	keyCount    = []byte("count")
	keyBytes    = []byte("bytes")
	keyDropped  = []byte("dropped")
	keyRejected = []byte("rejected")
	keyRecover  = []byte("recovered") // JSON Recovery: this file replaced a corrupt one
)

// Options configure a Buffer. Zero values take the defaults.
type Options struct {
	// MaxUpdates bounds the number of queued updates (default 10,000,000).
	MaxUpdates uint64
	// MaxBytes bounds the encoded (wire) size of queued updates (default 1 GiB).
	MaxBytes uint64
	// MaxAge drops updates older than this when trimming (0: no age bound).
	MaxAge time.Duration
	// Overflow is DropOldest (default) or RejectNew.
	Overflow string
	// NoSync skips fsync on commit: faster, but a power cut may lose the most
	// recent appends. Off by default; for tests and benchmarks on tmpfs.
	NoSync bool
	// GroupCommitDelay is how long an append waits for others to share its
	// commit and fsync (default DefaultGroupCommitDelay). Longer means
	// fewer commits and less CPU and disk wear, and each Append returns
	// that much later.
	GroupCommitDelay time.Duration
	// CompactSlack is how many bytes the file may hold beyond twice its
	// live pages before Compact rewrites it (default 32 MiB, more than
	// bbolt's 16 MiB growth step, so that preallocation alone never
	// triggers a compaction).
	CompactSlack uint64
	// CompactMaxLive is the most live data Compact copies (default 64 MiB,
	// well under a second's work). Appends, reads and acknowledgements
	// wait while it runs, so while more than this is queued (a backlog
	// draining) the file keeps its size: compacting half a day's backlog
	// mid-drain held the agent's appends and heartbeats for minutes, and
	// doubled the disk the buffer took meanwhile.
	CompactMaxLive uint64
	// Logger receives overflow episodes; default slog.Default().
	Logger *slog.Logger
}

// DefaultGroupCommitDelay is Options.GroupCommitDelay when unset. Pollers
// staggered over their period append one at a time: 500 devices polled
// every second append every 2 ms, so bolt's default of 10 ms groups about
// five appends per commit where 2 ms grouped hardly any.
const DefaultGroupCommitDelay = 10 * time.Millisecond

// Entry is one queued update in its encoded form.
type Entry struct {
	// Seq is the update's sequence number.
	Seq uint64
	// Data is the update encoded by wire.AppendUpdate; its strings are in
	// the buffer's dictionary (Buffer.Strings).
	Data []byte
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
	// Refused counts updates a failed Append did not store (full disk, I/O
	// error) since the process started. It is kept in memory: a disk that
	// refuses the updates cannot be trusted to record how many it refused.
	Refused uint64 `json:"refused"`
	// LastError is the last store failure since the process started ("" if none).
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when it happened.
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// FileBytes is the size of the buffer file on disk.
	FileBytes int64 `json:"file_bytes"`
	// Compactions counts the times the file was rewritten smaller since the
	// process started.
	Compactions uint64 `json:"compactions,omitempty"`
	// Recovered is set when this file replaced a corrupt one (nil otherwise).
	Recovered *Recovery `json:"recovered,omitempty"`
}

// Buffer is the queue. It is safe for concurrent use.
type Buffer struct {
	path string
	opts Options
	log  *slog.Logger

	// dbmu is held for reading by every operation on db and for writing
	// while Compact replaces the file (appends wait meanwhile).
	dbmu        sync.RWMutex
	db          *bolt.DB
	compactions uint64 // under dbmu (write)

	dict     *dict
	health   health
	arrivals arrivals
	next     atomic.Uint64 // the sequence number the next update gets, once committed

	mu       sync.Mutex
	notify   chan struct{}
	overflow bool // inside an overflow episode (for logging once)
}

// dict is the buffer's string dictionary: the in-memory copy of the dict
// bucket plus the ids assigned since, which the next append transaction
// writes.
type dict struct {
	mu      sync.Mutex
	mem     wire.MemDict
	enc     wire.Encoder      // with Dict = the dict itself
	pending map[uint64]string // assigned, not known to be committed
}

// ID implements wire.Dict; d.mu must be held.
func (d *dict) ID(s string) uint64 {
	n := d.mem.Len()
	id := d.mem.ID(s)
	if id == n {
		d.pending[id] = s
	}
	return id
}

// String implements wire.Strings.
func (d *dict) String(id uint64) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mem.String(id)
}

// encode encodes updates into one allocation.
func (d *dict) encode(updates []model.Update) ([][]byte, uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	buf := make([]byte, 0, 256*len(updates))
	ends := make([]int, len(updates))
	var err error
	for i := range updates {
		if buf, err = d.enc.AppendUpdate(buf, &updates[i]); err != nil {
			return nil, 0, fmt.Errorf("encode update %d: %w", i, err)
		}
		ends[i] = len(buf)
	}
	enc := make([][]byte, len(updates))
	start := 0
	for i, end := range ends {
		enc[i] = buf[start:end:end]
		start = end
	}
	return enc, uint64(len(buf)), nil
}

// persist writes the pending dictionary entries in tx and returns their ids.
func (d *dict) persist(tx *bolt.Tx) ([]uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		return nil, nil
	}
	bk := tx.Bucket(bucketDict)
	ids := make([]uint64, 0, len(d.pending))
	for id, s := range d.pending {
		if err := bk.Put(seqKey(id), []byte(s)); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// committed forgets pending ids that a commit wrote.
func (d *dict) committed(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		delete(d.pending, id)
	}
}

// Open opens (or creates) the queue file path. A file bbolt finds corrupt
// is moved aside (path.corrupt-<time>) and a fresh queue takes its place;
// see Stats.Recovered.
func Open(path string, opts Options) (*Buffer, error) {
	if opts.MaxUpdates == 0 {
		opts.MaxUpdates = 10_000_000
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.GroupCommitDelay <= 0 {
		opts.GroupCommitDelay = DefaultGroupCommitDelay
	}
	if opts.CompactSlack == 0 {
		opts.CompactSlack = 32 << 20
	}
	if opts.CompactMaxLive == 0 {
		opts.CompactMaxLive = 64 << 20
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
	f, err := openFile(path, opts)
	if errors.Is(err, ErrCorrupt) {
		if f, err = replaceCorrupt(path, opts, err); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	if f.legacy {
		opts.Logger.Info("buffer holds updates in the JSON format of an earlier version; they are converted as they are sent", "file", path)
	}
	b := &Buffer{path: path, db: f.db, opts: opts, log: opts.Logger, notify: make(chan struct{}, 1), dict: f.dict}
	b.arrivals.start(f.nextSeq, opts.MaxAge)
	b.next.Store(f.nextSeq)
	return b, nil
}

// file is an opened and initialised buffer file.
type file struct {
	db      *bolt.DB
	dict    *dict
	legacy  bool   // holds JSON entries of an earlier version
	nextSeq uint64 // at open
}

// openFile opens path and loads its dictionary. Corruption, whether bbolt
// reports it, panics on it or faults reading it, is returned as ErrCorrupt.
func openFile(path string, opts Options) (f file, err error) {
	err = readGuarded(func() error { return loadFile(path, opts, &f) })
	if err != nil && f.db != nil {
		_ = readGuarded(f.db.Close)
	}
	if err != nil {
		return file{}, err
	}
	return f, nil
}

// loadFile is openFile without the guard; f.db is set as soon as the file
// is open, so that openFile can close it after a panic.
func loadFile(path string, opts Options, f *file) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		if corruptOpenError(err) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return fmt.Errorf("buffer: open %s: %w", path, err)
	}
	f.db = db
	db.MaxBatchDelay = opts.GroupCommitDelay
	d := &dict{pending: map[uint64]string{}}
	d.enc.Dict = d
	f.dict = d
	err = db.Update(func(tx *bolt.Tx) error {
		q, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		c := q.Cursor()
		if _, v := c.First(); len(v) > 0 && v[0] == '{' {
			f.legacy = true
		}
		if k, _ := c.Last(); k != nil && len(k) != 8 {
			return fmt.Errorf("%w: queue key %x is not 8 bytes", ErrCorrupt, k)
		}
		dk, err := tx.CreateBucketIfNotExists(bucketDict)
		if err != nil {
			return err
		}
		err = dk.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: dictionary key %x is not 8 bytes", ErrCorrupt, k)
			}
			d.mem.Add(binary.BigEndian.Uint64(k), string(v))
			return nil
		})
		if err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if m.Get(keyNextSeq) == nil {
			if err := putU64(m, keyNextSeq, 1); err != nil {
				return err
			}
		}
		f.nextSeq = getU64(m, keyNextSeq)
		return nil
	})
	if err != nil {
		return fmt.Errorf("buffer: initialise %s: %w", path, err)
	}
	return nil
}

// Strings looks up the strings that queued entries refer to; the forwarder
// puts the ones a batch uses into the batch (wire.AppendBatch).
func (b *Buffer) Strings() wire.Strings { return b.dict }

// Close closes the file.
func (b *Buffer) Close() error {
	b.dbmu.Lock()
	defer b.dbmu.Unlock()
	return b.db.Close()
}

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
	defer func() {
		if err != nil && !errors.Is(err, ErrFull) {
			b.health.refused(b.log, len(updates), err)
		}
	}()
	enc, size, err := b.dict.encode(updates)
	if err != nil {
		return 0, fmt.Errorf("buffer: %w", err)
	}
	var dropped uint64
	var dictIDs []uint64
	var next uint64
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	err = b.db.Batch(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		q.FillPercent = 1.0 // appends are sequential: fill pages, do not split them in half
		count, bytesNow := getU64(m, keyCount), getU64(m, keyBytes)
		n := uint64(len(updates))
		dropped, first, dictIDs = 0, 0, nil // Batch may run fn again
		var err error
		if dictIDs, err = b.dict.persist(tx); err != nil {
			return err
		}
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
		next = getU64(m, keyNextSeq)
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
	b.dict.committed(dictIDs)
	b.health.stored(b.log)
	if first == 0 {
		b.episode(true, "buffer full: rejecting new updates (policy reject-new)", len(updates))
		return 0, ErrFull
	}
	b.arrivals.note(next)
	b.setNext(next)
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

// setNext raises the in-memory next sequence number to n (appends of
// concurrent group commits may report out of order).
func (b *Buffer) setNext(n uint64) {
	for {
		cur := b.next.Load()
		if n <= cur || b.next.CompareAndSwap(cur, n) {
			return
		}
	}
}

// NextSeq returns the sequence number the next update will get, without
// reading the file: the forwarder uses it to see how many updates have
// arrived since it looked.
func (b *Buffer) NextSeq() uint64 { return b.next.Load() }

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
// Entries an earlier version stored as JSON are returned converted.
func (b *Buffer) Peek(max int, maxBytes int) ([]Entry, error) {
	var out []Entry
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		total := 0
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			if len(out) > 0 && total+len(v) > maxBytes {
				break
			}
			total += len(v)
			e := Entry{Seq: binary.BigEndian.Uint64(k)}
			if len(v) > 0 && v[0] == '{' {
				var err error
				if e.Data, err = b.convert(v); err != nil {
					return fmt.Errorf("entry %d: %w", e.Seq, err)
				}
			} else {
				e.Data = bytes.Clone(v)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("buffer: read queue: %w", err)
	}
	return out, nil
}

// convert re-encodes an update stored as JSON by an earlier version. The
// decoded JSON re-encodes to what the hub decoded from it before; the ids
// it assigns are persisted by the next append (a batch carries its strings,
// so the hub does not depend on that).
func (b *Buffer) convert(v []byte) ([]byte, error) {
	var u model.Update
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("decode an update stored as JSON by an earlier version: %w", err)
	}
	b.dict.mu.Lock()
	defer b.dict.mu.Unlock()
	data, err := b.dict.enc.AppendUpdate(nil, &u)
	if err != nil {
		return nil, fmt.Errorf("convert an update stored as JSON by an earlier version: %w", err)
	}
	return data, nil
}

// entryTS is the TS of a stored update, in either format.
func entryTS(v []byte) (time.Time, error) {
	if len(v) > 0 && v[0] == '{' {
		var u struct {
			TS time.Time `json:"ts"`
		}
		err := json.Unmarshal(v, &u)
		return u.TS, err
	}
	return wire.UpdateTS(v)
}

// Ack deletes every queued update with a sequence number up to and including
// seq: the hub has acknowledged them.
func (b *Buffer) Ack(seq uint64) error { return b.ack(0, seq) }

// ack deletes the acknowledged entries in the appends' group commit
// (bolt's Batch) rather than in a transaction of its own: while readings
// flow, an acknowledgement costs no commit and no fsync of its own, it
// rides on the next append's. It is still durable when it returns. (It
// need not be: an acknowledgement lost in a power cut only means the batch
// is sent again, the hub de-duplicates it by its message id and the
// forwarder confirms the duplicate against the hub's high-water mark. But
// sharing the appends' commit costs nothing and keeps the file's state
// simple.) The function may run twice (Batch retries a failed group one
// by one); it reads everything it changes from the transaction, so a
// second run does the same.
func (b *Buffer) ack(first, seq uint64) error {
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	err := b.db.Batch(func(tx *bolt.Tx) error {
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
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	err := b.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		q.FillPercent = 1.0
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
		b.arrivals.shift(shift)
		b.setNext(b.next.Load() + shift)
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
// returns how many it dropped. An update is old only when both clocks say
// so: its timestamp is more than MaxAge before now (the wall clock), and
// this process has held it for more than MaxAge of monotonic time (see
// arrivals). A wall clock that jumps forward (an RTC reset corrected by NTP)
// therefore drops nothing; a backlog that is really old is dropped once the
// process has seen it for MaxAge.
func (b *Buffer) TrimAge(now time.Time) (uint64, error) {
	if b.opts.MaxAge <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-b.opts.MaxAge)
	held := b.arrivals.heldLongerThan(b.opts.MaxAge)
	var dropped uint64
	var kept bool
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	err := b.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		count, bytesNow := getU64(m, keyCount), getU64(m, keyBytes)
		dropped, kept = 0, false
		c := q.Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			if ts, err := entryTS(v); err == nil && !ts.Before(cutoff) {
				break
			}
			if binary.BigEndian.Uint64(k) >= held {
				kept = true // old by the wall clock only
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
	b.arrivals.clockWarning(b.log, kept, b.opts.MaxAge)
	return dropped, nil
}

// Stats returns the queue's counters.
func (b *Buffer) Stats() (Stats, error) {
	var s Stats
	b.health.fill(&s)
	b.dbmu.RLock()
	defer b.dbmu.RUnlock()
	s.Compactions = b.compactions
	if fi, err := os.Stat(b.path); err == nil {
		s.FileBytes = fi.Size()
	}
	err := b.db.View(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		s.Depth, s.Bytes = getU64(m, keyCount), getU64(m, keyBytes)
		if v := m.Get(keyRecover); v != nil {
			var r Recovery
			if json.Unmarshal(v, &r) == nil {
				s.Recovered = &r
			}
		}
		s.NextSeq = getU64(m, keyNextSeq)
		s.Dropped, s.Rejected = getU64(m, keyDropped), getU64(m, keyRejected)
		if k, v := q.Cursor().First(); k != nil {
			s.FirstSeq = binary.BigEndian.Uint64(k)
			if ts, err := entryTS(v); err == nil {
				s.OldestTS = ts
			}
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("buffer: stats: %w", err)
	}
	return s, nil
}
