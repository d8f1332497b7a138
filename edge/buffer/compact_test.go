package buffer

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// After a backlog drains, Compact gives the space back: the file shrinks
// below a bound, keeps what is still queued and its sequence, and appends
// made meanwhile wait and land.
func TestCompactShrinksADrainedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b := open(t, path, Options{NoSync: true, CompactSlack: 256 << 10})
	const backlog = 4000
	appendBig(t, b, backlog)
	if did, err := b.Compact(); err != nil || did {
		t.Fatalf("Compact of a full backlog: %v, %v; want nothing to do", did, err)
	}
	before, _ := b.Stats()
	if err := b.Ack(backlog - 10); err != nil { // the hub took all but 10
		t.Fatal(err)
	}
	drained, _ := b.Stats()
	if drained.FileBytes != before.FileBytes {
		t.Fatalf("bbolt shrank the file by itself (%d → %d): the test shows nothing", before.FileBytes, drained.FileBytes)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	appended := make(chan uint64, 50)
	go func() {
		defer wg.Done()
		for i := range 50 {
			first, err := b.Append(upd(i, time.Now()))
			if err != nil {
				t.Error(err)
				return
			}
			appended <- first
		}
	}()
	did, err := b.Compact()
	wg.Wait()
	close(appended)
	if err != nil || !did {
		t.Fatalf("Compact of a drained file: %v, %v; want it compacted", did, err)
	}
	after, _ := b.Stats()
	const bound = 512 << 10
	if after.FileBytes > bound || after.FileBytes >= before.FileBytes/4 {
		t.Fatalf("file after compaction: %d bytes (before %d); want at most %d", after.FileBytes, before.FileBytes, bound)
	}
	t.Logf("buffer.db: %d bytes with the backlog, %d after compaction", before.FileBytes, after.FileBytes)
	if after.Compactions != 1 || after.Depth != 60 || after.FirstSeq != backlog-9 || after.NextSeq != backlog+51 {
		t.Fatalf("after compaction: %+v; want 60 queued from %d", after, backlog-9)
	}
	want := uint64(backlog + 1)
	for first := range appended {
		if first != want {
			t.Fatalf("append during compaction got seq %d, want %d", first, want)
		}
		want++
	}
	es, err := b.Peek(100, 1<<30)
	if err != nil || len(es) != 60 {
		t.Fatalf("peek: %d, %v", len(es), err)
	}
	if got := counterOf(t, b, es[len(es)-1]); got != 49 {
		t.Fatalf("last entry: counter %d, want 49", got)
	}
	// the compacted file is a buffer like any other after a restart
	b.Close()
	b2 := open(t, path, Options{})
	if st, _ := b2.Stats(); st.Depth != 60 || st.NextSeq != backlog+51 {
		t.Fatalf("after a restart: %+v", st)
	}
	if first, err := b2.Append(upd(99, time.Now())); err != nil || first != backlog+51 {
		t.Fatalf("append after a restart: %d, %v", first, err)
	}
}

// While a backlog drains, Compact leaves the file alone until what is
// still queued is at most CompactMaxLive: copying it would hold appends
// and the heartbeat for as long as the copy takes.
func TestCompactWaitsForTheBacklogToDrain(t *testing.T) {
	const backlog = 4000 // ~2 kB each: ~8 MB
	tests := []struct {
		name    string
		acked   uint64
		maxLive uint64
		want    bool
	}{
		{"a quarter queued, above the bound", 3000, 1 << 20, false},
		{"a quarter queued, under a larger bound", 3000, 4 << 20, true},
		{"drained", backlog - 10, 1 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t, filepath.Join(t.TempDir(), "buffer.db"), Options{NoSync: true, CompactSlack: 256 << 10, CompactMaxLive: tt.maxLive})
			appendBig(t, b, backlog)
			if err := b.Ack(tt.acked); err != nil {
				t.Fatal(err)
			}
			before, _ := b.Stats()
			did, err := b.Compact()
			if err != nil || did != tt.want {
				t.Fatalf("Compact with %d of %d bytes queued, bound %d: %v, %v; want %v", before.Bytes, before.FileBytes, tt.maxLive, did, err, tt.want)
			}
			if after, _ := b.Stats(); after.Depth != backlog-tt.acked || after.FirstSeq != tt.acked+1 {
				t.Fatalf("after Compact: %+v; want %d queued from %d", after, backlog-tt.acked, tt.acked+1)
			}
		})
	}
}

// appendBig appends n updates of ~2 kB (bigUpd) in appends of 100.
func appendBig(t *testing.T, b *Buffer, n int) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		us := make([]model.Update, min(100, n-i))
		for j := range us {
			us[j] = bigUpd(i + j)
		}
		if _, err := b.Append(us...); err != nil {
			t.Fatal(err)
		}
	}
}
