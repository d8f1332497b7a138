package agent

import (
	"context"
	"fmt"
	"sync"
)

// watch follows the first cycles of a new map on the slaves it changed
// that answered under the previous map. When one of them fails each of its
// first n cycles, the previous map is restored; when each has had a good
// cycle, the map is confirmed.
type watch struct {
	version string // the map watched
	n       int

	mu      sync.Mutex
	fails   map[string]int  // failed cycles so far per watched slave
	pending map[string]bool // watched slaves without a verdict
	failed  string          // the slave that failed n cycles, with the last error
	decided chan struct{}   // closed once confirmed or failed
	once    sync.Once
	gone    chan struct{} // closed when another map replaced this one
	goneMu  sync.Once
	settled chan struct{} // closed once the verdict was acted on (or abandoned)
}

// abandon stops the watch: another map replaced the watched one.
func (w *watch) abandon() { w.goneMu.Do(func() { close(w.gone) }) }

func newWatch(version string, n int, slaves []string) *watch {
	w := &watch{version: version, n: n, fails: map[string]int{}, pending: map[string]bool{}, decided: make(chan struct{}),
		gone: make(chan struct{}), settled: make(chan struct{})}
	for _, s := range slaves {
		w.pending[s] = true
	}
	if len(w.pending) == 0 {
		w.once.Do(func() { close(w.decided) })
	}
	return w
}

// observe records one cycle of slave; it never blocks.
func (w *watch) observe(slave string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.pending[slave] || w.failed != "" {
		return
	}
	if err == nil {
		delete(w.pending, slave)
	} else if w.fails[slave]++; w.fails[slave] >= w.n {
		w.failed = fmt.Sprintf("slave %s failed the new map's first %d cycles, after answering under the previous map: %v", slave, w.n, err)
	}
	if len(w.pending) == 0 || w.failed != "" {
		w.once.Do(func() { close(w.decided) })
	}
}

// verdict returns "" when the map is confirmed, or why it failed; call it
// after decided closed.
func (w *watch) verdict() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// startWatch watches the fresh runs of a swap whose devices were healthy
// before it, and rolls the map back when they fail. It returns the watch,
// already decided when there is nothing to watch. a.mapMu must be held.
func (a *Agent) startWatch(ctx context.Context, version string, res *swapResult) *watch {
	var names []string
	for _, r := range res.fresh {
		if res.healthy[r.name] {
			names = append(names, r.name)
		}
	}
	w := newWatch(version, a.cfg.Control.ConfirmCycles, names)
	for _, r := range res.fresh {
		if res.healthy[r.name] {
			r.watch.Store(w)
		}
	}
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return w
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer close(w.settled)
		select {
		case <-ctx.Done():
			return
		case <-w.gone:
			return
		case <-w.decided:
		}
		reason := w.verdict()
		a.mapMu.Lock()
		defer a.mapMu.Unlock()
		a.mu.RLock()
		current := a.mapInfo.Version
		a.mu.RUnlock()
		if current != version {
			return // another map was applied meanwhile
		}
		if reason == "" {
			a.mu.Lock()
			a.mapInfo.Confirmed = true
			a.mu.Unlock()
			if err := a.persist(); err != nil {
				a.log.Error("map confirmed but not persisted", "map", version, "err", err)
			}
			a.log.Info("new map confirmed by its first cycles", "map", version)
			return
		}
		a.log.Error("rolling back a new map automatically", "map", version, "reason", reason)
		if _, err := a.restorePrevious(ctx, "", reason, true); err != nil {
			a.log.Error("automatic rollback failed", "map", version, "err", err)
		}
	}()
	return w
}
