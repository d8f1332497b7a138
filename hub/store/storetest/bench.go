package storetest

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Benchmark sizes.
const (
	benchDocs     = 10000 // documents for GetByID and FindSelector
	benchClients  = 32    // concurrent goroutines
	benchBulkSize = 1000  // documents per Bulk call
)

// Bench runs the store benchmarks on a store from open (called once per
// sub-benchmark group; the data set is built once):
//
//   - GetByID and FindSelector with 32 concurrent goroutines, reporting
//     ops/s and p99 latency;
//   - BulkInsert: Bulk of 1000 new documents per call, reporting docs/s.
//
// History is measured in hub/history (BenchmarkBytesPerReading and the
// query benchmarks): the store keeps no history.
func Bench(b *testing.B, open func(tb testing.TB) store.Store) {
	b.Run("Docs", func(b *testing.B) {
		st := open(b)
		loadDocs(b, st)
		b.Run("GetByID/32", func(b *testing.B) {
			concurrent(b, func(r *rand.Rand) error {
				_, err := st.Get(ctx, "demo", "meters", docID(r.IntN(benchDocs)))
				return err
			})
		})
		b.Run("FindSelector/32", func(b *testing.B) {
			concurrent(b, func(r *rand.Rand) error {
				lo := float64(r.IntN(benchDocs - 50))
				sel, err := query.CompileSelector(map[string]any{"kind": "meter", "n": map[string]any{"$gte": lo, "$lt": lo + 50}})
				if err != nil {
					return err
				}
				docs, err := st.Find(ctx, "demo", "meters", store.FindOptions{Selector: sel, Limit: 20})
				if err == nil && len(docs) == 0 {
					err = fmt.Errorf("no documents for n >= %v", lo)
				}
				return err
			})
		})
	})
	b.Run("BulkInsert", func(b *testing.B) {
		st := open(b)
		putDemoTB(b, st)
		b.ResetTimer()
		n := 0
		for n < b.N {
			k := min(benchBulkSize, b.N-n)
			docs := make([]store.Document, k)
			for i := range docs {
				docs[i] = benchDoc(n + i)
			}
			res, err := st.Bulk(ctx, "demo", "meters", docs, false)
			if err != nil || res.Err != 0 {
				b.Fatalf("Bulk: %+v, %v", res.Errors, err)
			}
			n += k
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

func putDemoTB(tb testing.TB, s store.Store) {
	tb.Helper()
	if err := s.PutLayer(ctx, demoLayer()); err != nil {
		tb.Fatalf("PutLayer: %v", err)
	}
}

func docID(i int) string { return fmt.Sprintf("m%06d", i) }

// benchDoc is a meter document like the seed's gridflex_generators.
func benchDoc(i int) store.Document {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return store.Document{
		"_id": docID(i), "kind": []string{"meter", "inverter"}[i%2], "n": float64(i),
		"substation": fmt.Sprintf("CR_I%d", i%50), "voltageLevel": "CR_I8_1",
		"measurements": map[string]any{
			"activePower":   map[string]any{"value": 3660.17 + float64(i), "quality": 1.0, "timestamp": ts},
			"reactivePower": map[string]any{"value": 366.02, "quality": 1.0, "timestamp": ts},
		},
		"measurementsTimestamp": ts,
	}
}

func loadDocs(tb testing.TB, st store.Store) {
	tb.Helper()
	putDemoTB(tb, st)
	for n := 0; n < benchDocs; n += benchBulkSize {
		docs := make([]store.Document, 0, benchBulkSize)
		for i := n; i < n+benchBulkSize && i < benchDocs; i++ {
			docs = append(docs, benchDoc(i))
		}
		if res, err := st.Insert(ctx, "demo", "meters", docs); err != nil || res.Err != 0 {
			tb.Fatalf("Insert: %v %v", res.Errors, err)
		}
	}
}

// concurrent runs op from 32 goroutines and reports ops/s and the p99
// latency.
func concurrent(b *testing.B, op func(r *rand.Rand) error) {
	b.SetParallelism((benchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	var lat []time.Duration
	var seed uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		seed++
		r := rand.New(rand.NewPCG(seed, 7))
		mu.Unlock()
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t := time.Now()
			if err := op(r); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
