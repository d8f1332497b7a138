package metrics

import (
	"io"
	"testing"
	"time"
)

// BenchmarkHistObserve is the cost the poller adds to each Modbus request.
func BenchmarkHistObserve(b *testing.B) {
	h := NewLatencyHist()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 3 * time.Millisecond
		for pb.Next() {
			h.ObserveDuration(d)
		}
	})
}

// BenchmarkWriteExposition writes what an agent with 500 slaves exposes
// per slave (three counters, a gauge and a latency histogram).
func BenchmarkWriteExposition(b *testing.B) {
	h := NewLatencyHist()
	for i := 0; i < 1000; i++ {
		h.Observe(float64(i) / 1000)
	}
	s := h.Snapshot()
	names := make([]string, 500)
	for i := range names {
		names[i] = "tcp://10.0.0.5:502#" + string(rune('0'+i%10))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w := NewWriter(io.Discard)
		for _, f := range []string{"a_total", "b_total", "c_total"} {
			w.Family(f, "x", Counter)
			for _, n := range names {
				w.Sample(L("slave", n), 42)
			}
		}
		w.Family("up", "x", Gauge)
		for _, n := range names {
			w.Sample(L("slave", n), 1)
		}
		w.Family("lat_seconds", "x", Histogram)
		for _, n := range names {
			w.Histogram(L("slave", n), s)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
