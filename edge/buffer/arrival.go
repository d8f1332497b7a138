package buffer

import (
	"log/slog"
	"sync"
	"time"
)

// arrivals records, on the process's monotonic clock, when updates entered
// the queue, so that the age bound never drops an update on the word of
// the wall clock alone: an RTC reset corrected by NTP, or a wrong clock set
// by hand, moves the wall clock by months, not the monotonic one. (The
// monotonic clock stops while the system is suspended; a gateway that
// sleeps keeps its backlog longer, which errs on the safe side.)
//
// Marks are (next, at) pairs: every update with a sequence number below
// next was queued at or before at. Updates found in the file at Open are
// marked at the time of Open, so after a restart they are dropped MaxAge
// after it at the earliest. Marks are at least every apart (one per
// MaxAge/1000, at least a second), so there are at most about a thousand.
type arrivals struct {
	mu    sync.Mutex
	clock func() time.Duration // monotonic time since Open
	marks []mark
	every time.Duration
	warn  bool // inside a clock-jump episode (for logging once)
}

type mark struct {
	next uint64
	at   time.Duration
}

// start marks the updates below next as queued now.
func (a *arrivals) start(next uint64, maxAge time.Duration) {
	opened := time.Now()
	a.clock = func() time.Duration { return time.Since(opened) } // monotonic
	a.every = max(time.Second, maxAge/1000)
	a.marks = []mark{{next: next, at: a.clock()}}
}

// note records that every update below next is queued.
func (a *arrivals) note(next uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := mark{next: next, at: a.clock()}
	if n := len(a.marks); n >= 2 && m.at-a.marks[n-2].at < a.every {
		a.marks[n-1] = m // still true of the earlier updates, and denser marks buy nothing
		return
	}
	a.marks = append(a.marks, m)
}

// heldLongerThan returns the sequence number below which every update has
// been queued for longer than d of monotonic time (0: none).
func (a *arrivals) heldLongerThan(d time.Duration) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock()
	i := -1
	for j, m := range a.marks {
		if now-m.at <= d {
			break
		}
		i = j
	}
	if i < 0 {
		return 0
	}
	a.marks = a.marks[i:] // older marks say less
	return a.marks[0].next
}

// shift renumbers the marks after Rebase moved the sequence by n.
func (a *arrivals) shift(n uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.marks {
		a.marks[i].next += n
	}
}

// clockWarning logs once per episode that the wall clock calls updates old
// that this process has not held for maxAge.
func (a *arrivals) clockWarning(log *slog.Logger, kept bool, maxAge time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if kept && !a.warn {
		log.Warn("the wall clock says queued updates are older than the age bound, but this process has held them for less than that; keeping them (did the clock jump?)",
			"max_age", maxAge)
	}
	a.warn = kept
}
