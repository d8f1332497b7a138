package vsensors

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkChangeToOutput is the latency from an input's committed write
// to the store (which then publishes the change event) to the virtual sensor's output
// write, with inputs written at 500 updates/s (one update every 2 ms; run
// with -benchtime=Nx, N updates). Embedded NATS, bolt store.
func BenchmarkChangeToOutput(b *testing.B) {
	e := newEnv(b)
	var cfg Config
	if err := jsonInto(&cfg, `{"settings": {"sensors": [{"collection": "gridflex_loads", "virtualsensors": [
		{"id": "SUM", "window": 3600, "template": {"measurements": {"p": {"value": "{gridflex_generators.G1>measurements.p.value} + {gridflex_generators.G2>measurements.p.value}", "quality": 1, "timestamp": "{timestamp}"}}}}
	]}]}}`); err != nil {
		b.Fatal(err)
	}
	e.put("G2", time.Now(), map[string]float64{"p": 0})
	e.start(cfg, "hub1")
	e.put("G1", time.Now(), map[string]float64{"p": -1}) // creates the output document
	e.waitFor("the output document", func() bool { return e.get("gridflex", "loads", "SUM") != nil })
	// an output of value v covers every input up to v (the service reads
	// the document as it is when it handles an event, so a late event may
	// bring a newer value): each input's latency is until the first output
	// that covers it
	var mu sync.Mutex
	sent := make([]time.Time, b.N)
	covered := 0
	var lat []time.Duration
	done := make(chan struct{})
	e.setOnWrite(func(id string, update map[string]any) {
		m, _ := update["measurements.p"].(map[string]any)
		v, _ := m["value"].(float64)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for covered <= int(v) && covered < b.N && !sent[covered].IsZero() {
			lat = append(lat, now.Sub(sent[covered]))
			covered++
			if covered == b.N {
				close(done)
			}
		}
	})
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		// the change event is published once the write committed: the
		// clock starts there
		mu.Lock()
		e.put("G1", time.Now(), map[string]float64{"p": float64(i)})
		sent[i] = time.Now()
		mu.Unlock()
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		mu.Lock()
		b.Fatalf("%d of %d inputs reached an output after 30s", covered, b.N)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
