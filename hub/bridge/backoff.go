package bridge

import (
	"context"
	"time"
)

// Backoff is a doubling wait between tries, from 100ms up to Max.
type Backoff struct {
	// Max caps the wait.
	Max  time.Duration
	next time.Duration
}

// Wait sleeps the next wait or until ctx is done (then it returns ctx's
// error).
func (b *Backoff) Wait(ctx context.Context) error {
	if b.next == 0 {
		b.next = 100 * time.Millisecond
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, max(b.Max, 100*time.Millisecond))
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reset starts again from the shortest wait.
func (b *Backoff) Reset() { b.next = 0 }
