package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/model"
)

// The history of edge batches: a batch's readings are recorded before the
// store commits it (history.Recorder), so that a reading in the documents
// is always in the history, across a hub killed at any instant and across
// a history backend outage.

// readingsBatch is a batch of n updates of site/meters/M1 from seq first:
// measurements.v is the sequence number, timed base + seq ms.
func readingsBatch(edge string, first uint64, n int, base time.Time) []byte {
	b := model.Batch{Edge: edge, SeqFirst: first, SeqLast: first + uint64(n) - 1}
	for i := range n {
		seq := first + uint64(i)
		ts := base.Add(time.Duration(seq) * time.Millisecond)
		b.Updates = append(b.Updates, model.MeasurementUpdate("site", "meters", "M1", ts,
			map[string]model.Measurement{"v": {Value: float64(seq), Quality: 1, Timestamp: ts}}))
	}
	data, _ := json.Marshal(b)
	return data
}

// startRecordedApplier runs an applier for edge e1 on st (the bolt store
// bs, possibly wrapped) recorded into hist by a history.Recorder.
func startRecordedApplier(t *testing.T, bs store.Store, wrap func(store.Store) store.Store, hist history.Appender) (*fixture, *history.Recorder) {
	t.Helper()
	ctx := context.Background()
	if err := bs.PutLayer(ctx, storeLayer("site", "meters")); err != nil {
		t.Fatal(err)
	}
	inner := bs
	if wrap != nil {
		inner = wrap(bs)
	}
	rec := history.NewRecorder(inner, hist, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := &fixture{nc: startNATS(t), st: rec}
	var err error
	f.a, err = New(ctx, f.nc, rec, Options{Domain: "d", Edges: []string{"e1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.js = f.a.js
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.a.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, rec
}

// waitFor polls cond every 20 ms for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// historyValues returns M1's measurements.v history between from and to.
func historyValues(t *testing.T, r history.Reader, from, to time.Time) []int {
	t.Helper()
	var out []int
	err := r.Select(context.Background(), history.Query{Layer: "site", Collection: "meters", IDs: []string{"M1"},
		Fields: []string{"measurements.v"}, From: from, To: to}, func(s history.Series) error {
		for p := range s.Points {
			out = append(out, int(p.V))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the history: %v", err)
	}
	return out
}

// checkEveryReading fails unless vals is 1..n, each once.
func checkEveryReading(t *testing.T, vals []int, n int) {
	t.Helper()
	if len(vals) != n {
		t.Errorf("history holds %d readings, want %d", len(vals), n)
	}
	for i, v := range vals {
		if v != i+1 {
			t.Errorf("history reading %d is %d, want %d (a gap or a duplicate); history %v", i, v, i+1, vals)
			return
		}
	}
}

// dieOnce is the store of a hub killed once, right before or right after
// committing a batch: the first batch with updates to apply fails as if
// the process had died there (after: it is stored, and nothing after the
// commit runs: no acknowledgement, and the old recorder's append neither).
// The batch comes back, as JetStream redelivers it to a restarted hub:
// applied (before) or a skipped replay (after).
type dieOnce struct {
	store.Store
	afterCommit bool
	died        atomic.Bool
}

func (s *dieOnce) ApplyBatch(ctx context.Context, b *model.Batch, o store.ApplyOptions) (store.ApplyResult, error) {
	if !s.afterCommit && s.died.CompareAndSwap(false, true) {
		return store.ApplyResult{}, fmt.Errorf("hub killed before committing batch %d-%d", b.SeqFirst, b.SeqLast)
	}
	res, err := s.Store.ApplyBatch(ctx, b, o)
	if s.afterCommit && err == nil && res.Applied > 0 && s.died.CompareAndSwap(false, true) {
		return store.ApplyResult{}, fmt.Errorf("hub killed after committing batch %d-%d", b.SeqFirst, b.SeqLast)
	}
	return res, err
}

// A hub killed right before or right after the store's commit of a batch
// leaves no gap and no duplicate in the history: the readings were
// recorded before the commit, and the batch's replay writes the same
// points again (before) or is skipped by the high-water mark (after). The
// recorder that appended after the commit lost the batch killed after it.
func TestHistoryKeepsBatchAtACrash(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before the commit", true: "after the commit"}[after], func(t *testing.T) {
			bs := openBolt(t)
			hist := openTSDB(t)
			crash := &dieOnce{afterCommit: after}
			f, _ := startRecordedApplier(t, bs, func(s store.Store) store.Store { crash.Store = s; return crash }, hist)
			base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			const batches, per = 5, 20
			for i := range batches {
				f.publish(t, "e1", readingsBatch("e1", uint64(i*per+1), per, base), "")
			}
			waitFor(t, 30*time.Second, "every batch applied", func() bool { return f.a.EdgeStats("e1").LastSeq == batches*per })
			if !crash.died.Load() {
				t.Fatal("the store never simulated the crash")
			}
			if got := f.a.Stats().Retries; got == 0 {
				t.Errorf("Retries = 0, want the batch at the crash tried again")
			}
			checkEveryReading(t, historyValues(t, hist, base, base.Add(time.Minute)), batches*per)
		})
	}
}

// victoriaMetrics is a VictoriaMetrics process (Debian's victoria-metrics)
// on a fixed loopback port and data directory, so that it can be stopped
// and started again as the same backend.
type victoriaMetrics struct {
	bin, addr, dir string
	cmd            *exec.Cmd
}

// startVictoriaMetrics starts VictoriaMetrics; without the binary the test
// skips, and fails when GRIDEDGE_REQUIRE_INTEROP=1.
func startVictoriaMetrics(t *testing.T) *victoriaMetrics {
	t.Helper()
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("no victoria-metrics for the remote history test: %v", err)
		}
		t.Skipf("no victoria-metrics for the remote history test (apt-get install victoria-metrics, or scripts/install-test-deps.sh): %v", err)
	}
	vm := &victoriaMetrics{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t)), dir: t.TempDir()}
	vm.start(t)
	t.Cleanup(vm.stop)
	return vm
}

func (vm *victoriaMetrics) url() string { return "http://" + vm.addr }

func (vm *victoriaMetrics) start(t *testing.T) {
	t.Helper()
	vm.cmd = exec.Command(vm.bin, "-httpListenAddr="+vm.addr, "-storageDataPath="+vm.dir, "-retentionPeriod=100y", "-loggerLevel=ERROR")
	stderr, err := vm.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("start victoria-metrics: %v", err)
	}
	go func() { // drain its log so it never blocks
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
	}()
	waitFor(t, 15*time.Second, "victoria-metrics to be healthy", func() bool {
		resp, err := http.Get(vm.url() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop shuts the process down (SIGINT: VictoriaMetrics keeps the last
// seconds of acknowledged samples in memory, which a kill -9 would lose,
// a data loss of the backend, not the subject here).
func (vm *victoriaMetrics) stop() {
	if vm.cmd == nil {
		return
	}
	_ = vm.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = vm.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = vm.cmd.Process.Kill()
		<-done
	}
	vm.cmd = nil
}

// While the remote history is unreachable, no batch is committed: the
// documents and the history stay in step, the batches wait in the edge's
// stream and the applier retries; when the backend is back every reading
// is in the documents and in the history, once.
func TestHistoryOutageHoldsBatches(t *testing.T) {
	vm := startVictoriaMetrics(t)
	bs := openBolt(t)
	remote, err := history.OpenRemote(history.RemoteOptions{WriteURL: vm.url() + "/api/v1/write", ReadURL: vm.url(),
		Client: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	f, rec := startRecordedApplier(t, bs, nil, remote)
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const per = 25

	// before the outage
	f.publish(t, "e1", readingsBatch("e1", 1, per, base), "")
	waitFor(t, 10*time.Second, "the first batch applied", func() bool { return f.a.EdgeStats("e1").LastSeq == per })

	vm.stop()
	const outage = 8 // batches published while the backend is down
	for i := 1; i <= outage; i++ {
		f.publish(t, "e1", readingsBatch("e1", uint64(i*per+1), per, base), "")
	}
	waitFor(t, 20*time.Second, "the applier retrying", func() bool { return f.a.Stats().Retries >= 3 })
	if hwm, err := bs.HighWaterMark(ctx, "e1"); err != nil || hwm != per {
		t.Fatalf("high-water mark during the outage = %d, %v; want %d (nothing committed)", hwm, err, per)
	}
	doc, err := bs.Get(ctx, "site", "meters", "M1")
	if err != nil {
		t.Fatal(err)
	}
	if v := doc["measurements"].(map[string]any)["v"].(map[string]any)["value"]; v != float64(per) {
		t.Errorf("M1's v during the outage = %v, want %d (the documents wait with the history)", v, per)
	}
	if rec.Held() == 0 || rec.Errors() == 0 {
		t.Errorf("recorder counted %d held batches and %d errors, want both > 0", rec.Held(), rec.Errors())
	}
	if s := f.a.EdgeStats("e1"); s.Retries == 0 || s.DeadLetters != 0 {
		t.Errorf("edge stats %+v: want retries and no dead letter", s)
	}

	vm.start(t)
	const n = (outage + 1) * per
	waitFor(t, 30*time.Second, "the held batches applied after the outage", func() bool { return f.a.EdgeStats("e1").LastSeq == n })
	resp, err := http.Get(vm.url() + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var vals []int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if vals = historyValues(t, remote, base, base.Add(time.Minute)); len(vals) >= n {
			break
		}
	}
	checkEveryReading(t, vals, n)
	if s := f.a.Stats(); s.DeadLetters != 0 || s.Updates != n {
		t.Errorf("applier stats %+v: want %d updates, no dead letter", s, n)
	}
}

// A batch whose history cannot be written (nothing listens at the remote
// backend's address) is neither committed nor dead-lettered: it is retried.
func TestHistoryFailureIsNotPermanent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	remote, err := history.OpenRemote(history.RemoteOptions{WriteURL: "http://" + addr + "/api/v1/write", ReadURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	bs := openBolt(t)
	f, _ := startRecordedApplier(t, bs, nil, remote)
	f.publish(t, "e1", readingsBatch("e1", 1, 3, time.Now().UTC()), "")
	waitFor(t, 10*time.Second, "retries", func() bool { return f.a.Stats().Retries >= 2 })
	if s := f.a.Stats(); s.DeadLetters != 0 || s.Batches != 0 {
		t.Errorf("stats %+v: want the batch neither applied nor dead-lettered", s)
	}
}

// A hub that stops (or dies) while a batch it fetched is not yet
// acknowledged leaves that batch pending in its stream, to be redelivered
// only after the consumer's AckWait; the batches after it are delivered at
// once to the restarted hub. Applied first, they would raise the
// high-water mark and make the pending batch a skipped replay: readings
// lost from the documents and the history. The applier applies a batch
// only when every earlier one of its stream is acknowledged, so the gap
// never opens.
func TestRestartKeepsBatchPendingAtTheStop(t *testing.T) {
	ctx := context.Background()
	nc := startNATS(t)
	bs := openBolt(t, storeLayer("site", "meters"))
	hist := openTSDB(t)
	rec := history.NewRecorder(bs, hist, nil)
	a, err := New(ctx, nc, rec, Options{Domain: "d", Edges: []string{"e1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{nc: nc, js: a.js, st: rec, a: a}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	f.publish(t, "e1", readingsBatch("e1", 1, 10, base), "")

	// the hub that stopped: it had fetched batch 1-10 on the applier's
	// durable consumer and never acknowledged it
	cons, err := a.js.CreateOrUpdateConsumer(ctx, EdgeStream("e1"), consumerConfig(consumerName("e1")))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	if n != 1 {
		t.Fatalf("fetched %d batches as the stopped hub, want 1", n)
	}
	// what the edge sends while the hub restarts
	f.publish(t, "e1", readingsBatch("e1", 11, 10, base), "")
	f.publish(t, "e1", readingsBatch("e1", 21, 10, base), "")

	// the restarted hub
	a2, err := New(ctx, nc, rec, Options{Domain: "d", Edges: []string{"e1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	run2, stop2 := context.WithCancel(ctx)
	done2 := make(chan struct{})
	go func() { defer close(done2); _ = a2.Run(run2) }()
	t.Cleanup(func() { stop2(); <-done2 })
	// the pending batch comes back after the AckWait (5 s)
	waitFor(t, 30*time.Second, "every batch applied", func() bool {
		hwm, err := bs.HighWaterMark(ctx, "e1")
		return err == nil && hwm == 30 && a2.EdgeStats("e1").Batches+a2.EdgeStats("e1").Skipped >= 3
	})
	if s := a2.EdgeStats("e1"); s.Missing != 0 || s.Skipped != 0 || s.Applied != 30 {
		t.Errorf("restarted applier: %+v; want the 30 updates applied in order (no gap, no skipped replay)", s)
	}
	checkEveryReading(t, historyValues(t, hist, base, base.Add(time.Minute)), 30)
}

// slowBigCommit is a store whose first commit waits for gate (so that
// the batches published meanwhile are fetched as one group) and whose
// first commit of more than 10,000 updates takes longer than the
// consumer's AckWait.
type slowBigCommit struct {
	store.Store
	gate   chan struct{}
	gated  sync.Once
	slowed atomic.Bool
	probe  func() // called in the slow commit, past the AckWait
}

func (s *slowBigCommit) ApplyBatch(ctx context.Context, b *model.Batch, o store.ApplyOptions) (store.ApplyResult, error) {
	s.gated.Do(func() { <-s.gate })
	if len(b.Updates) > 10_000 && s.slowed.CompareAndSwap(false, true) {
		time.Sleep(6 * time.Second) // AckWait is 5 s
		s.probe()
		time.Sleep(time.Second)
	}
	return s.Store.ApplyBatch(ctx, b, o)
}

// A fetched group larger than one merged run waits behind the run
// committing; a commit slower than the AckWait must not make the waiting
// batches deliverable again (they were: to the next pull, which could
// reach the server before their acknowledgements, and to another hub's
// pull in a cluster; skipped then by the high-water mark, 8.6% of the
// updates of an 8 h backlog replay under load were received twice). A
// pull of the test's own, past the AckWait, must find nothing.
func TestSlowCommitKeepsGroupInProgress(t *testing.T) {
	bs := openBolt(t)
	hist := openTSDB(t)
	slow := &slowBigCommit{gate: make(chan struct{})}
	f, _ := startRecordedApplier(t, bs, func(s store.Store) store.Store { slow.Store = s; return slow }, hist)
	var redelivered atomic.Int64
	slow.probe = func() {
		cons, err := f.js.Consumer(context.Background(), EdgeStreamPrefix+"e1", consumerName("e1"))
		if err != nil {
			t.Errorf("probe: the edge's consumer: %v", err)
			return
		}
		b, err := cons.FetchNoWait(maxGroup)
		if err != nil {
			t.Errorf("probe: fetch: %v", err)
			return
		}
		for m := range b.Messages() {
			redelivered.Add(1)
			_ = m.Nak()
		}
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	// a first batch, held at its commit while 40 of 500 updates are
	// published: the next group holds them all, a run of 32 (16,000
	// updates) and one of 8
	f.publish(t, "e1", readingsBatch("e1", 1, 1, base), "")
	const batches, per = 40, 500
	for i := range batches {
		f.publish(t, "e1", readingsBatch("e1", uint64(2+i*per), per, base), "")
	}
	close(slow.gate)
	total := uint64(1 + batches*per)
	waitFor(t, 60*time.Second, "every batch applied", func() bool { return f.a.EdgeStats("e1").LastSeq == total })
	if !slow.slowed.Load() {
		t.Fatal("no commit of more than 10,000 updates: the batches were not merged as the test expects")
	}
	if n := redelivered.Load(); n != 0 {
		t.Errorf("%d batches waiting behind the slow run were delivered again past the AckWait", n)
	}
}
