package buffer

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// monotonic is a fake monotonic clock for a buffer's arrivals.
type monotonic struct {
	mu  sync.Mutex
	now time.Duration
}

func (m *monotonic) read() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *monotonic) advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now += d
}

// fakeMonotonic replaces b's monotonic clock; what b holds counts as
// arrived at the fake clock's zero.
func fakeMonotonic(b *Buffer) *monotonic {
	m := &monotonic{}
	st, _ := b.Stats()
	b.arrivals.mu.Lock()
	defer b.arrivals.mu.Unlock()
	b.arrivals.clock = m.read
	b.arrivals.marks = []mark{{next: st.NextSeq, at: 0}}
	return m
}

// The age bound drops only what both clocks call old: a wall clock that
// jumps a year forward (an RTC reset, then NTP) keeps the backlog; a
// backlog old by both clocks goes.
func TestTrimAgeNeedsBothClocks(t *testing.T) {
	real := time.Now()
	tests := []struct {
		name        string
		stamped     time.Duration // update timestamps relative to real
		held        time.Duration // monotonic time the process holds them
		wallNow     time.Duration // TrimAge's now relative to real
		wantDropped uint64
	}{
		{"wall clock jumps a year forward", 0, time.Minute, 365 * 24 * time.Hour, 0},
		{"readings stamped by a reset RTC, clock then corrected", -40 * 365 * 24 * time.Hour, time.Minute, 0, 0},
		{"old by the wall clock, held less than maxAge", -3 * time.Hour, 59 * time.Minute, 0, 0},
		{"held long enough, but recent by the wall clock", 0, 2 * time.Hour, 0, 0},
		{"old by both clocks", -3 * time.Hour, 2 * time.Hour, 0, 10},
		{"a year's jump after maxAge of holding", 0, time.Hour + time.Second, 365 * 24 * time.Hour, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{MaxAge: time.Hour})
			clock := fakeMonotonic(b)
			for i := range 10 {
				if _, err := b.Append(upd(i, real.Add(tt.stamped))); err != nil {
					t.Fatal(err)
				}
			}
			clock.advance(tt.held)
			got, err := b.TrimAge(real.Add(tt.wallNow))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantDropped {
				t.Fatalf("dropped %d, want %d", got, tt.wantDropped)
			}
			if st, _ := b.Stats(); st.Depth != 10-tt.wantDropped || st.Dropped != tt.wantDropped {
				t.Fatalf("stats: got depth %d dropped %d, want %d and %d", st.Depth, st.Dropped, 10-tt.wantDropped, tt.wantDropped)
			}
		})
	}
}

// Only the prefix the process has held for maxAge goes; later arrivals
// wait for their own maxAge, and a restart counts as an arrival.
func TestTrimAgeByArrival(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	b := open(t, path, Options{MaxAge: time.Hour})
	clock := fakeMonotonic(b)
	old := time.Now().Add(-48 * time.Hour) // every update is old by the wall clock
	b.Append(upd(0, old), upd(1, old))     // 1, 2
	clock.advance(30 * time.Minute)
	b.Append(upd(2, old)) // 3
	clock.advance(31 * time.Minute)
	if n, _ := b.TrimAge(time.Now()); n != 2 {
		t.Fatalf("after 61 min: dropped %d, want the 2 held for an hour", n)
	}
	clock.advance(30 * time.Minute)
	if n, _ := b.TrimAge(time.Now()); n != 1 {
		t.Fatalf("after 91 min: dropped %d, want 1", n)
	}

	b.Append(upd(3, old), upd(4, old)) // 4, 5
	clock.advance(2 * time.Hour)
	b.Close()
	b2 := open(t, path, Options{MaxAge: time.Hour})
	clock2 := fakeMonotonic(b2)
	if n, _ := b2.TrimAge(time.Now()); n != 0 {
		t.Fatalf("right after a restart: dropped %d, want 0 (this process has not held them)", n)
	}
	clock2.advance(time.Hour + time.Second)
	if n, _ := b2.TrimAge(time.Now()); n != 2 {
		t.Fatalf("an hour after the restart: dropped %d, want 2", n)
	}
}

// Rebase renumbers the queue; the arrival marks follow.
func TestTrimAgeAfterRebase(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "b.db"), Options{MaxAge: time.Hour})
	clock := fakeMonotonic(b)
	old := time.Now().Add(-48 * time.Hour)
	b.Append(upd(0, old), upd(1, old))
	clock.advance(2 * time.Hour)
	b.Append(upd(2, old))
	if _, err := b.Rebase(1000); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.TrimAge(time.Now()); n != 2 {
		t.Fatalf("dropped %d, want the 2 held for two hours", n)
	}
}
