package bus

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestHighPriorityGoesFirst(t *testing.T) {
	var l Lock
	ctx := context.Background()
	if err := l.Acquire(ctx, false); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(name string, high bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Acquire(ctx, high); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			l.Release()
		}()
		time.Sleep(20 * time.Millisecond) // arrival order
	}
	enqueue("poll1", false)
	enqueue("poll2", false)
	enqueue("write1", true)
	enqueue("write2", true)
	l.Release()
	wg.Wait()
	want := []string{"write1", "write2", "poll1", "poll2"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestAcquireHonoursContext(t *testing.T) {
	var l Lock
	_ = l.Acquire(context.Background(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := l.Acquire(ctx, true); err == nil {
		t.Fatal("acquired a held lock")
	}
	l.Release()
	// the abandoned waiter must not keep the lock
	done := make(chan struct{})
	go func() { _ = l.Acquire(context.Background(), false); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("lock stuck after a waiter gave up")
	}
}

func TestManyWaitersGivingUpNeverDeadlocks(t *testing.T) {
	var l Lock
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*time.Millisecond)
			defer cancel()
			if l.Acquire(ctx, i%3 == 0) == nil {
				time.Sleep(100 * time.Microsecond)
				l.Release()
			}
		}(i)
	}
	wg.Wait()
	if err := l.Acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
}
