package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps one token bucket per credential. Buckets idle for longer
// than idleAfter are dropped, so the map does not grow without bound.
type limiter struct {
	cfg RateLimitConfig
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

const idleAfter = 10 * time.Minute

func newLimiter(cfg RateLimitConfig, now func() time.Time) *limiter {
	if cfg.Off {
		cfg.PerSecond = 0
	}
	if cfg.PerSecond > 0 && cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(2*cfg.PerSecond)))
	}
	return &limiter{cfg: cfg, now: now, buckets: map[string]*bucket{}, lastSweep: now()}
}

// allow takes a token from key's bucket.
func (l *limiter) allow(key string) bool {
	if l.cfg.PerSecond <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > idleAfter {
		for k, b := range l.buckets {
			if now.Sub(b.last) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.PerSecond), l.cfg.Burst)}
		l.buckets[key] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}

// retryAfter is the Retry-After value in whole seconds: the time to refill one token.
func (l *limiter) retryAfter() int {
	if l.cfg.PerSecond <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(1/l.cfg.PerSecond)))
}
