package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// applyCalls is the bolt store, recording the sequence range of every
// ApplyBatch it is given.
type applyCalls struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (s *applyCalls) ApplyBatch(ctx context.Context, b *model.Batch, o store.ApplyOptions) (store.ApplyResult, error) {
	s.mu.Lock()
	s.calls = append(s.calls, fmt.Sprintf("%s:%d-%d", b.Edge, b.SeqFirst, b.SeqLast))
	s.mu.Unlock()
	return s.Store.ApplyBatch(ctx, b, o)
}

// A backlog waiting in the streams is applied in groups: consecutive
// batches in one store transaction, with the same outcome as applying them
// one by one: order, high-water mark, replays, gaps, dead letters (a bad
// batch inside a run, one the store refuses), counters and one change
// event per batch and document.
func TestGroupAppliesBacklogAsOneByOne(t *testing.T) {
	ctx := context.Background()
	nc := startNATS(t)
	bs := openBolt(t, storeLayer("site", "meters", "other"))
	st := &applyCalls{Store: bs}
	f := &fixture{nc: nc, st: st}
	changes := func(c store.Change) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.changes = append(f.changes, c)
	}
	var err error
	f.a, err = New(ctx, nc, st, Options{Domain: "d", Edges: []string{"e1", "e2"}, Changes: changes,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.js = f.a.js

	// the backlog, published before the applier runs
	f.publish(t, "e1", batchJSON("e1", 1, 3, "meters"), "")
	f.publish(t, "e1", batchWire(t, "e1", 4, 2, "meters"), "")
	f.publish(t, "e1", []byte("{garbage"), "")               // dead letter
	f.publish(t, "e1", batchJSON("e1", 6, 1, "meters"), "")  // a run with the next two…
	f.publish(t, "e1", batchJSON("e1", 7, 1, "nope"), "")    // …that the store refuses for this one: dead letter
	f.publish(t, "e1", batchJSON("e1", 8, 1, "meters"), "")  // gap: 7 is missing
	f.publish(t, "e1", batchJSON("e1", 1, 3, "meters"), "")  // replay: skipped
	f.publish(t, "e1", batchJSON("e1", 10, 2, "meters"), "") // gap: 9 is missing
	f.publish(t, "e2", batchJSON("e2", 1, 2, "other"), "")
	f.publish(t, "e2", batchJSON("e2", 3, 1, "other"), "")
	f.publish(t, "e2", batchJSON("e2", 4, 1, "other"), "")

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.a.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	wait(t, "the backlog", func() bool {
		return f.a.EdgeStats("e1").LastSeq == 11 && f.a.EdgeStats("e2").LastSeq == 4 && f.a.Stats().DeadLetters == 2
	})

	if got, want := f.a.EdgeStats("e1"), (EdgeStats{Batches: 6, Applied: 9, Skipped: 3, Missing: 2, DeadLetters: 2, LastSeq: 11}); !sameCounts(got, want) {
		t.Errorf("e1 stats = %+v, want %+v", got, want)
	}
	if got, want := f.a.EdgeStats("e2"), (EdgeStats{Batches: 3, Applied: 4, LastSeq: 4}); !sameCounts(got, want) {
		t.Errorf("e2 stats = %+v, want %+v", got, want)
	}
	for edge, want := range map[string]uint64{"e1": 11, "e2": 4} {
		if got, _ := bs.HighWaterMark(ctx, edge); got != want {
			t.Errorf("%s: stored high-water mark %d, want %d", edge, got, want)
		}
	}
	// the last batch wins (batchJSON's values are first+i)
	for _, c := range []struct {
		col  string
		want float64
	}{{"meters", 11}, {"other", 4}} {
		doc, err := bs.Get(ctx, "site", c.col, "M1")
		if err != nil {
			t.Fatal(err)
		}
		if got := doc["measurements"].(map[string]any)["v"].(map[string]any)["value"]; got != c.want {
			t.Errorf("%s/M1 measurements.v.value = %v, want %v", c.col, got, c.want)
		}
	}

	st.mu.Lock()
	calls := slices.Clone(st.calls)
	st.mu.Unlock()
	if !slices.Contains(calls, "e1:1-5") || !slices.Contains(calls, "e2:1-4") {
		t.Errorf("ApplyBatch calls %v: want the runs e1:1-5 and e2:1-4 merged", calls)
	}
	if !slices.Contains(calls, "e1:6-8") || !slices.Contains(calls, "e1:6-6") || !slices.Contains(calls, "e1:8-8") {
		t.Errorf("ApplyBatch calls %v: want the refused run e1:6-8 applied again batch by batch", calls)
	}

	// one event per batch and document, as if applied one by one
	type ev struct{ op, col string }
	var got []ev
	f.mu.Lock()
	for _, c := range f.changes {
		if c.ID != "M1" || !reflect.DeepEqual(c.Fields, []string{"measurements.v", "measurementsTimestamp"}) {
			t.Errorf("change %+v: want document M1, fields measurements.v and measurementsTimestamp", c)
		}
		got = append(got, ev{c.Op, c.Collection})
	}
	f.mu.Unlock()
	count := func(evs []ev, e ev) int {
		n := 0
		for _, x := range evs {
			if x == e {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		e    ev
		want int
	}{{ev{store.OpInsert, "meters"}, 1}, {ev{store.OpUpdate, "meters"}, 4}, {ev{store.OpInsert, "other"}, 1}, {ev{store.OpUpdate, "other"}, 2}} {
		if n := count(got, c.e); n != c.want {
			t.Errorf("%d %s events on %s, want %d (all: %v)", n, c.e.op, c.e.col, c.want, got)
		}
	}
	for _, col := range []string{"meters", "other"} {
		if i := slices.Index(got, ev{store.OpInsert, col}); i < 0 || slices.Index(got, ev{store.OpUpdate, col}) < i {
			t.Errorf("events on %s: the insert must come first: %v", col, got)
		}
	}
}

// sameCounts compares edge stats but for the time of the last batch.
func sameCounts(a, b EdgeStats) bool {
	a.LastApplied, b.LastApplied = time.Time{}, time.Time{}
	return a == b
}

func TestChangesPerBatch(t *testing.T) {
	up := func(id string, fields ...string) model.Update {
		u := model.Update{Layer: "l", Collection: "c", ID: id, Set: map[string]any{}}
		for _, f := range fields {
			u.Set[f] = 1.0
		}
		return u
	}
	parts := []*model.Batch{
		{Edge: "e", SeqFirst: 1, SeqLast: 3, Updates: []model.Update{up("A", "x"), up("B", "x"), up("A", "y")}},
		{Edge: "e", SeqFirst: 4, SeqLast: 5, Updates: []model.Update{up("A", "z"), up("C", "x")}},
	}
	ch := func(op, id string, fields ...string) store.Change {
		return store.Change{Op: op, Layer: "l", Collection: "c", ID: id, Fields: fields}
	}
	tests := []struct {
		name string
		res  store.ApplyResult
		want []store.Change
	}{
		{"A new, B and C existing",
			store.ApplyResult{Changes: []store.Change{ch(store.OpInsert, "A"), ch(store.OpUpdate, "B"), ch(store.OpUpdate, "C")}},
			[]store.Change{ch(store.OpInsert, "A", "x", "y"), ch(store.OpUpdate, "B", "x"), ch(store.OpUpdate, "A", "z"), ch(store.OpUpdate, "C", "x")}},
		{"C new in the second batch",
			store.ApplyResult{Changes: []store.Change{ch(store.OpUpdate, "A"), ch(store.OpUpdate, "B"), ch(store.OpInsert, "C")}},
			[]store.Change{ch(store.OpUpdate, "A", "x", "y"), ch(store.OpUpdate, "B", "x"), ch(store.OpUpdate, "A", "z"), ch(store.OpInsert, "C", "x")}},
		{"first batch and one more update skipped",
			store.ApplyResult{Skipped: 4, Changes: []store.Change{ch(store.OpUpdate, "C")}},
			[]store.Change{ch(store.OpUpdate, "C", "x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := changesPerBatch(parts, tt.res); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changesPerBatch = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// A run ends before the fields its updates set pass maxRunFields, so
// that an edge with large updates does not make the hub hold a huge run.
func TestRunsAreBoundedByFields(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { maxRunFields = n }(maxRunFields)
	maxRunFields = 6 // 3 of batchJSON's updates (a measurement and measurementsTimestamp each)
	nc := startNATS(t)
	bs := openBolt(t, storeLayer("site", "meters"))
	st := &applyCalls{Store: bs}
	f := &fixture{nc: nc, st: st}
	var err error
	f.a, err = New(ctx, nc, st, Options{Domain: "d", Edges: []string{"e1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.js = f.a.js
	f.publish(t, "e1", batchJSON("e1", 1, 2, "meters"), "") // 4 fields
	f.publish(t, "e1", batchJSON("e1", 3, 2, "meters"), "") // 8 with the one before: a run of its own…
	f.publish(t, "e1", batchJSON("e1", 5, 1, "meters"), "") // …which this one joins (6)
	f.publish(t, "e1", batchJSON("e1", 6, 4, "meters"), "") // more than the bound alone: a run all the same

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.a.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	wait(t, "the backlog", func() bool { return f.a.EdgeStats("e1").LastSeq == 9 })
	if got, want := f.a.EdgeStats("e1"), (EdgeStats{Batches: 4, Applied: 9, LastSeq: 9}); !sameCounts(got, want) {
		t.Errorf("e1 stats = %+v, want %+v", got, want)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if want := []string{"e1:1-2", "e1:3-5", "e1:6-9"}; !slices.Equal(st.calls, want) {
		t.Errorf("ApplyBatch calls %v, want %v", st.calls, want)
	}
}
