package buffer

import (
	"log/slog"
	"sync"
	"time"
)

// health counts the updates the disk refused. It lives in memory: when the
// disk fails, a counter on it would fail too. A failure episode is logged
// once at ERROR when it starts and once when the buffer stores again, so a
// full disk is not filled further by one log line per poll.
type health struct {
	mu        sync.Mutex
	total     uint64 // updates refused since start
	episode   uint64 // updates refused in the current failure episode
	lastErr   string
	lastErrAt time.Time
}

// refused records n updates that a failed Append did not store.
func (h *health) refused(log *slog.Logger, n int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.episode == 0 {
		log.Error("buffer cannot store updates: they are counted as refused (buffer.refused in the heartbeat) until it can again; what is already buffered is kept and still forwarded",
			"updates", n, "err", err)
	}
	h.total += uint64(n)
	h.episode += uint64(n)
	h.lastErr, h.lastErrAt = err.Error(), time.Now().UTC()
}

// stored records a successful Append, ending a failure episode.
func (h *health) stored(log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.episode > 0 {
		log.Warn("buffer stores updates again after refusing some", "refused", h.episode, "refused_since_start", h.total)
		h.episode = 0
	}
}

// fill copies the counters into s.
func (h *health) fill(s *Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.Refused, s.LastError = h.total, h.lastErr
	if !h.lastErrAt.IsZero() {
		at := h.lastErrAt
		s.LastErrorAt = &at
	}
}
