package iot

import (
	"sync"
	"time"
)

// limiter is a token bucket per device. Buckets exist only for devices
// that passed the apikey and device checks, so their number is bounded by
// the provisioned devices.
type limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[deviceKey]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: perSecond, burst: float64(burst), buckets: map[deviceKey]*bucket{}}
}

// allow takes one token of k's bucket at now; when there is none it
// returns false and how long until there is one.
func (l *limiter) allow(k deviceKey, now time.Time) (bool, time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[k] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// forget drops the bucket of a removed device.
func (l *limiter) forget(k deviceKey) {
	l.mu.Lock()
	delete(l.buckets, k)
	l.mu.Unlock()
}
