// Package bus serialises access to one field bus (an RS-485 line, a TCP
// gateway) across pollers and writers, with priority: a command waiting to
// write goes before any waiting poll. A holder keeps the bus for a whole
// sequence of requests (a poll cycle, or read → write → read back).
package bus

import (
	"context"
	"sync"
)

// Lock is a context-aware mutex with two priorities. The zero value is unlocked.
type Lock struct {
	mu   sync.Mutex
	held bool
	high []chan struct{}
	low  []chan struct{}
}

// Acquire waits for the bus; high-priority waiters are served first, each
// class in arrival order. It returns ctx.Err() if ctx ends first.
func (l *Lock) Acquire(ctx context.Context, high bool) error {
	l.mu.Lock()
	if !l.held {
		l.held = true
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if high {
		l.high = append(l.high, ch)
	} else {
		l.low = append(l.low, ch)
	}
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		removed := remove(&l.high, ch) || remove(&l.low, ch)
		l.mu.Unlock()
		if !removed {
			// handed over while we gave up: pass it on
			l.Release()
		}
		return ctx.Err()
	}
}

func remove(q *[]chan struct{}, ch chan struct{}) bool {
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return true
		}
	}
	return false
}

// Release hands the bus to the next waiter, or frees it.
func (l *Lock) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range []*[]chan struct{}{&l.high, &l.low} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	l.held = false
}
