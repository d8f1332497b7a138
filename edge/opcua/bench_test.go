package opcua_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/edge/opcua/opcuatest"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/model"
)

// BenchmarkSubscription subscribes to GRIDEDGE_OPCUA_BENCH_ITEMS monitored
// items (e.g. 10000) of the asyncua server, which writes all of them once
// a second (value and source timestamp); one iteration is one such round
// received. It reports the latency from the server's source timestamp to
// the sink (p50, p99, max: the publishing interval of 100ms is part of
// it), this process's CPU time per round and per value, and how long the
// monitored items took to create. Gated: without the variable it skips
// (asyncua needs ~1 s of its own CPU per 10,000 writes).
//
//	GRIDEDGE_OPCUA_BENCH_ITEMS=10000 go test -run '^$' -bench Subscription -benchtime 10x ./opcua/
func BenchmarkSubscription(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("GRIDEDGE_OPCUA_BENCH_ITEMS"))
	if n <= 0 {
		b.Skip("set GRIDEDGE_OPCUA_BENCH_ITEMS=10000 to run the OPC-UA subscription benchmark against asyncua")
	}
	srv := opcuatest.Start(b, "--items", strconv.Itoa(n), "--period", "1", "--tick", "1")
	s := &opcua.Server{URL: srv.URL(), PublishingInterval: config.Duration(100 * time.Millisecond),
		Timeout: config.Duration(60 * time.Second)}
	ms := make([]opcua.Measurement, n)
	for i := range ms {
		ms[i] = opcua.Measurement{Name: fmt.Sprintf("v%d", i), NodeID: fmt.Sprintf("ns=2;s=Bench.%d", i)}
	}
	s.Documents = []opcua.Document{{Document: settings.Document{Layer: "bench", Collection: "items", ID: "all"}, Measurements: ms}}
	s.Defaults()

	var mu sync.Mutex
	var lat []time.Duration
	values := 0
	progress := make(chan struct{}, 1)
	sink := func(_ context.Context, us []model.Update) error {
		now := time.Now()
		mu.Lock()
		for _, u := range us {
			for _, x := range u.Set {
				if m, ok := x.(model.Measurement); ok && m.Quality == model.QualityGood {
					lat = append(lat, now.Sub(m.Timestamp))
					values++
				}
			}
		}
		mu.Unlock()
		select {
		case progress <- struct{}{}:
		default:
		}
		return nil
	}
	src, err := opcua.NewSource(s, sink, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		_ = src.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	waitValues := func(want int) {
		deadline := time.After(2 * time.Minute)
		for {
			mu.Lock()
			got := values
			mu.Unlock()
			if got >= want {
				return
			}
			select {
			case <-progress:
			case <-time.After(100 * time.Millisecond):
			case <-deadline:
				b.Fatalf("%d of %d values after 2 minutes; stats %+v", got, want, src.Stats())
			}
		}
	}
	// the initial values of every item: the subscription is complete
	waitValues(n)
	setup := time.Since(start)
	if st := src.Stats(); st.Subscribed != int64(n) {
		b.Fatalf("%d of %d monitored items accepted", st.Subscribed, n)
	}
	mu.Lock()
	lat, base := lat[:0], values
	mu.Unlock()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		waitValues(base + (i+1)*n)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(n), "items")
	b.ReportMetric(setup.Seconds(), "s-to-subscribe")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/round")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(values-base), "cpu-µs/value")
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
