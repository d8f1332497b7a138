package buffer

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/wire"
)

func upd(i int, ts time.Time) model.Update {
	return model.MeasurementUpdate("demo", "meters", "M1", ts, map[string]model.Measurement{
		"counter": {Value: float64(i), Quality: model.QualityGood, Timestamp: ts},
	})
}

func open(t *testing.T, path string, opts Options) *Buffer {
	t.Helper()
	b, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func counterOf(t *testing.T, b *Buffer, e Entry) int {
	t.Helper()
	u, err := wire.DecodeUpdate(e.Data, b.Strings())
	if err != nil {
		t.Fatalf("decode entry %d: %v", e.Seq, err)
	}
	m := u.Set["measurements.counter"].(map[string]any)
	return int(m["value"].(float64))
}

func TestAppendPeekAckAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buf.db")
	b := open(t, path, Options{})
	now := time.Now()
	for i := 0; i < 10; i++ {
		first, err := b.Append(upd(i, now))
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(i + 1); first != want {
			t.Fatalf("seq of update %d: got %d, want %d", i, first, want)
		}
	}
	es, err := b.Peek(4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || es[0].Seq != 1 || es[3].Seq != 4 || counterOf(t, b, es[3]) != 3 {
		t.Fatalf("peek: got %d entries starting %d", len(es), es[0].Seq)
	}
	if err := b.Ack(4); err != nil {
		t.Fatal(err)
	}
	st, _ := b.Stats()
	if st.Depth != 6 || st.FirstSeq != 5 || st.NextSeq != 11 {
		t.Fatalf("stats after ack: %+v", st)
	}
	b.Close()

	// Sequence numbers survive a restart and never go back, even when the queue drained.
	b2 := open(t, path, Options{})
	if err := b2.Ack(10); err != nil {
		t.Fatal(err)
	}
	first, err := b2.Append(upd(99, now))
	if err != nil {
		t.Fatal(err)
	}
	if first != 11 {
		t.Fatalf("seq after restart: got %d, want 11", first)
	}
	st, _ = b2.Stats()
	if st.Depth != 1 || st.Bytes == 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestOverflowPolicies(t *testing.T) {
	now := time.Now()
	tests := []struct {
		policy      string
		wantDepth   uint64
		wantDropped uint64
		wantReject  uint64
		wantFirst   int // counter value of the oldest kept update
	}{
		{DropOldest, 5, 3, 0, 3},
		{RejectNew, 5, 0, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{MaxUpdates: 5, Overflow: tt.policy})
			var full int
			for i := 0; i < 8; i++ {
				if _, err := b.Append(upd(i, now)); errors.Is(err, ErrFull) {
					full++
				} else if err != nil {
					t.Fatal(err)
				}
			}
			st, _ := b.Stats()
			if st.Depth != tt.wantDepth || st.Dropped != tt.wantDropped || st.Rejected != tt.wantReject {
				t.Fatalf("stats: got %+v, want depth %d dropped %d rejected %d", st, tt.wantDepth, tt.wantDropped, tt.wantReject)
			}
			if uint64(full) != tt.wantReject {
				t.Fatalf("ErrFull returned %d times, want %d", full, tt.wantReject)
			}
			es, _ := b.Peek(100, 1<<20)
			if got := counterOf(t, b, es[0]); got != tt.wantFirst {
				t.Fatalf("oldest kept: got counter %d, want %d", got, tt.wantFirst)
			}
			// drop count equals exactly what is missing
			if missing := 8 - len(es); uint64(missing) != st.Dropped+st.Rejected {
				t.Fatalf("missing %d updates, counters say %d", missing, st.Dropped+st.Rejected)
			}
		})
	}
}

func TestTrimAge(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{MaxAge: time.Hour})
	clock := fakeMonotonic(b)
	now := time.Now()
	b.Append(upd(0, now.Add(-3*time.Hour)), upd(1, now.Add(-2*time.Hour)), upd(2, now))
	clock.advance(time.Hour + time.Second) // the process has held them for the age bound
	n, err := b.TrimAge(now)
	if err != nil || n != 2 {
		t.Fatalf("TrimAge: got %d, %v; want 2", n, err)
	}
	st, _ := b.Stats()
	if st.Depth != 1 || st.Dropped != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestConcurrentAppendsKeepEveryUpdateOnce(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := b.Append(upd(w*1000+i, time.Now())); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	es, _ := b.Peek(writers*each+10, 1<<30)
	if len(es) != writers*each {
		t.Fatalf("got %d entries, want %d", len(es), writers*each)
	}
	seen := map[int]bool{}
	last := map[int]int{}
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d: sequence has a hole", i, e.Seq)
		}
		c := counterOf(t, b, e)
		if seen[c] {
			t.Fatalf("counter %d stored twice", c)
		}
		seen[c] = true
		w := c / 1000
		if p, ok := last[w]; ok && c < p {
			t.Fatalf("writer %d: %d stored after %d", w, c, p)
		}
		last[w] = c
	}
}

// A corrupt file no longer stops Open: TestCorruptFileIsMovedAside.
func TestOpenRejectsBadPolicy(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{Overflow: "drop-newest"}); err == nil {
		t.Fatal("want an error for an unknown overflow policy")
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 30} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			buf, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close()
			us := make([]model.Update, batch)
			for i := range us {
				us[i] = upd(i, time.Now())
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := buf.Append(us...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

func TestRebase(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{})
	now := time.Now()
	b.Append(upd(0, now), upd(1, now), upd(2, now)) // seqs 1..3
	// normal case: the hub has applied some of what we hold: nothing moves
	if shift, err := b.Rebase(2); err != nil || shift != 0 {
		t.Fatalf("Rebase(2): %d, %v", shift, err)
	}
	// the hub has seen up to 100: this buffer was recreated; continue above it
	shift, err := b.Rebase(100)
	if err != nil || shift != 100 {
		t.Fatalf("Rebase(100): shift %d, %v; want 100", shift, err)
	}
	es, _ := b.Peek(10, 1<<20)
	if len(es) != 3 || es[0].Seq != 101 || es[2].Seq != 103 || counterOf(t, b, es[0]) != 0 || counterOf(t, b, es[2]) != 2 {
		t.Fatalf("after rebase: %d entries from %d", len(es), es[0].Seq)
	}
	if first, _ := b.Append(upd(3, now)); first != 104 {
		t.Fatalf("next seq after rebase: %d, want 104", first)
	}
}

// BenchmarkAppendConcurrent: 64 pollers appending one update each at a
// time, under the default durability (fsync per commit): group commit puts
// concurrent appends into one transaction.
func BenchmarkAppendConcurrent(b *testing.B) {
	buf, err := Open(filepath.Join(b.TempDir(), "b.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	u := upd(1, time.Now())
	b.SetParallelism(32) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := buf.Append(u); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// Entries of a batch in flight that drop-oldest deletes before the hub's
// acknowledgement reached the hub all the same: not counted as dropped.
func TestAckBatchUncountsDropsOfTheSentBatch(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{MaxUpdates: 4})
	now := time.Now()
	b.Append(upd(0, now), upd(1, now), upd(2, now), upd(3, now)) // 1..4
	sent, _ := b.Peek(3, 1<<20)                                  // the forwarder sends 1..3
	b.Append(upd(4, now), upd(5, now))                           // drops 1 and 2 meanwhile
	if st, _ := b.Stats(); st.Dropped != 2 {
		t.Fatalf("dropped %d, want 2", st.Dropped)
	}
	if err := b.AckBatch(sent[0].Seq, sent[len(sent)-1].Seq); err != nil {
		t.Fatal(err)
	}
	st, _ := b.Stats()
	if st.Dropped != 0 || st.Depth != 3 || st.FirstSeq != 4 {
		t.Fatalf("after the ack: %+v; want nothing dropped, 4..6 queued", st)
	}
	// real drops stay counted
	b.Append(upd(6, now), upd(7, now), upd(8, now)) // 7..9 in: drops 4 and 5
	if st, _ := b.Stats(); st.Dropped != 2 {
		t.Fatalf("dropped %d, want 2", st.Dropped)
	}
}
