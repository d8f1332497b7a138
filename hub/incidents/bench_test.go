package incidents

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkIncidentToCall measures the latency from an incident's insert
// (committed to the bolt store, change event published) to the workflow's
// HTTP call arriving at a local server, one incident at a time, through
// the JetStream work queue of an embedded NATS server.
func BenchmarkIncidentToCall(b *testing.B) {
	e := newEnv(b)
	rec := newRecorder(b, nil)
	e.layer(seedNotify(rec.URL))
	e.start(fast(), Options{})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		e.insert(seedIncident(fmt.Sprintf("B%d", i)))
		select {
		case <-rec.got:
		case <-time.After(10 * time.Second):
			b.Fatalf("incident %d: no call after 10s", i)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
