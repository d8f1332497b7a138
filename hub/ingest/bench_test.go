package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

// BenchmarkApplierReplay measures how fast the applier drains a backlog of
// edge batches (GRIDEDGE_BENCH_BACKLOG updates, default 1,000,000, in
// batches of 500 updates of 50 documents) from the edge's stream into the
// bolt store: the latest documents. wire: batches as agents send them
// (shared/wire); json: as older agents send them; wire+history: as wire,
// through the hub's history.Recorder into the embedded tsdb (each run's
// samples appended before its commit). It reports
// updates/s and the process CPU time per update (cpu-µs/update: the
// applier, the store and the NATS server together; steadier than the rate
// on a shared machine).
func BenchmarkApplierReplay(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("GRIDEDGE_BENCH_BACKLOG")); err == nil && v > 0 {
		n = v
	}
	b.Run("wire", func(b *testing.B) { benchReplay(b, n, true, false) })
	b.Run("json", func(b *testing.B) { benchReplay(b, n, false, false) })
	b.Run("wire+history", func(b *testing.B) { benchReplay(b, n, true, true) })
}

func benchReplay(b *testing.B, n int, binary, withHistory bool) {
	const per = 500
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		srv, err := server.NewServer(&server.Options{Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
		if err != nil {
			b.Fatal(err)
		}
		go srv.Start()
		srv.ReadyForConnections(10 * time.Second)
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		bs, err := bolt.Open(filepath.Join(dir, "hub.db"))
		if err != nil {
			b.Fatal(err)
		}
		var st store.Store = bs
		var hist *history.TSDB
		if withHistory {
			if hist, err = history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(dir, "history"), OutOfOrderWindow: 48 * time.Hour}); err != nil {
				b.Fatal(err)
			}
			st = history.NewRecorder(bs, hist, nil)
		}
		ctx := context.Background()
		if err := st.PutLayer(ctx, store.Layer{ID: "site", Collections: []store.Collection{{Name: "meters"}}}); err != nil {
			b.Fatal(err)
		}
		a, err := New(ctx, nc, st, Options{Domain: "d", Edges: []string{"e1"}, MaxBytes: 4 << 30, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		ts := time.Now().UTC()
		var futures []jetstream.PubAckFuture
		for seq := 1; seq <= n; seq += per {
			bt := model.Batch{Edge: "e1", SeqFirst: uint64(seq), SeqLast: uint64(min(seq+per-1, n))}
			for j := seq; j <= int(bt.SeqLast); j++ {
				bt.Updates = append(bt.Updates, model.MeasurementUpdate("site", "meters", "M"+strconv.Itoa(j%50), ts.Add(time.Duration(j)*time.Millisecond),
					map[string]model.Measurement{"activePower": {Value: float64(j), Quality: 1, Timestamp: ts.Add(time.Duration(j) * time.Millisecond)}}))
			}
			data := encodeBench(b, &bt, binary)
			f, err := js.PublishAsync(subject.Ingest("d", "e1"), data)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		<-js.PublishAsyncComplete()
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		b.StartTimer()
		cpu0 := processCPU(b)
		start := time.Now()
		go func() { defer close(done); _ = a.Run(rctx) }()
		for a.EdgeStats("e1").LastSeq < uint64(n) {
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		cpu := processCPU(b) - cpu0
		b.StopTimer()
		cancel()
		<-done
		b.ReportMetric(float64(n)/el.Seconds(), "updates/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(n), "cpu-µs/update")
		fmt.Printf("applier replay INGEST→bolt store: %d updates in %d batches in %v = %.0f updates/s\n", n, (n+per-1)/per, el.Round(time.Millisecond), float64(n)/el.Seconds())
		bs.Close()
		if hist != nil {
			if got := hist.Stats().Written; got != uint64(n) {
				b.Fatalf("history holds %d samples, want %d", got, n)
			}
			hist.Close()
		}
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// encodeBench encodes a batch as an agent (binary) or an older agent sends it.
func encodeBench(b *testing.B, bt *model.Batch, binary bool) []byte {
	if !binary {
		data, err := json.Marshal(bt)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	var d wire.MemDict
	enc := make([][]byte, len(bt.Updates))
	for i := range bt.Updates {
		var err error
		if enc[i], err = wire.AppendUpdate(nil, &bt.Updates[i], &d); err != nil {
			b.Fatal(err)
		}
	}
	data, err := wire.AppendBatch(nil, bt.Edge, bt.SeqFirst, enc, &d)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// processCPU is the user and system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
