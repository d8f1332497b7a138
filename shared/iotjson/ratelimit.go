package iotjson

import (
	"sync"
	"time"
)

// Limiter is a token bucket per device key. Callers create buckets only
// for devices that passed the apikey and device checks, so their number is
// bounded by the provisioned devices.
type Limiter[K comparable] struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[K]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter of perSecond readings a second with burst;
// perSecond 0 or less allows everything.
func NewLimiter[K comparable](perSecond float64, burst int) *Limiter[K] {
	return &Limiter[K]{rate: perSecond, burst: float64(burst), buckets: map[K]*bucket{}}
}

// Allow takes one token of k's bucket at now; when there is none it
// returns false and how long until there is one.
func (l *Limiter[K]) Allow(k K, now time.Time) (bool, time.Duration) {
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

// Forget drops the bucket of a removed device.
func (l *Limiter[K]) Forget(k K) {
	l.mu.Lock()
	delete(l.buckets, k)
	l.mu.Unlock()
}
