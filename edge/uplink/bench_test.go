package uplink

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// BenchmarkBacklogReplay measures how fast a backlog drains from the edge
// buffer into the hub's INGEST stream over a real leaf-node link on
// loopback, acknowledged by JetStream (file storage). The backlog size is
// GRIDEDGE_BENCH_BACKLOG (default 1,000,000 updates). The hub side only
// stores and acknowledges; hub/ingest's BenchmarkApplierReplay measures
// applying them to the store.
func BenchmarkBacklogReplay(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("GRIDEDGE_BENCH_BACKLOG")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		leafPort := freeLeafPort(b)
		hub, err := server.NewServer(&server.Options{ServerName: "hub", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"),
			NoSigs: true, NoLog: true, MaxPayload: 8 << 20, LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort}})
		if err != nil {
			b.Fatal(err)
		}
		go hub.Start()
		if !hub.ReadyForConnections(10 * time.Second) {
			b.Fatal("hub not ready")
		}
		hnc, err := nats.Connect(hub.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		answerHWM(b, hnc, "d", "e1", 0)
		js, _ := jetstream.New(hnc)
		ctx := context.Background()
		stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST", Subjects: []string{subject.IngestAll("d")},
			Duplicates: 10 * time.Minute, MaxBytes: 4 << 30})
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := StartLeaf(LeafOptions{Edge: "e1", HubURL: fmt.Sprintf("nats-leaf://127.0.0.1:%d", leafPort), Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !leaf.HubConnected(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("leaf link not up")
			}
		}
		buf, err := buffer.Open(filepath.Join(dir, "buf.db"), buffer.Options{NoSync: true, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		ts := time.Now()
		batch := make([]model.Update, 0, 1000)
		for j := 0; j < n; j++ {
			batch = append(batch, model.MeasurementUpdate("site", "meters", "M"+strconv.Itoa(j%50), ts,
				map[string]model.Measurement{"activePower": {Value: float64(j), Quality: 1, Timestamp: ts}}))
			if len(batch) == cap(batch) || j == n-1 {
				if _, err := buf.Append(batch...); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		enc, _ := buf.Stats()
		nc, err := leaf.Connect("bench", "e1")
		if err != nil {
			b.Fatal(err)
		}
		f := NewForwarder(nc, buf, ForwarderOptions{Edge: "e1", Domain: "d", Logger: quiet})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		b.StartTimer()
		start := time.Now()
		go func() { defer close(done); _ = f.Run(rctx) }()
		for {
			st, _ := buf.Stats()
			if st.Depth == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		info, _ := stream.Info(ctx)
		b.ReportMetric(float64(n)/el.Seconds(), "updates/s")
		b.ReportMetric(float64(enc.Bytes)/el.Seconds()/1e6, "MB/s")
		fmt.Printf("backlog replay edge→hub (leaf link, loopback): %d updates (%.0f MB) in %v = %.0f updates/s, %d batches in INGEST\n",
			n, float64(enc.Bytes)/1e6, el.Round(time.Millisecond), float64(n)/el.Seconds(), info.State.Msgs)
		nc.Close()
		leaf.Shutdown()
		buf.Close()
		hnc.Close()
		hub.Shutdown()
		hub.WaitForShutdown()
	}
}

func freeLeafPort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
