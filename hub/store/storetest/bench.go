package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
	"github.com/gridedge/gridedge/shared/model"
)

// Benchmark sizes.
const (
	benchDocs     = 10000 // documents for GetByID and FindSelector
	benchClients  = 32    // concurrent goroutines
	benchSeries   = 100   // documents carrying the history points
	benchBulkSize = 1000  // documents per Bulk call
)

// HistoryPoints is the size of the history the Range benchmark builds
// once per run: 1,000,000, or GRIDEDGE_BENCH_HISTORY.
func HistoryPoints() int {
	if n, err := strconv.Atoi(os.Getenv("GRIDEDGE_BENCH_HISTORY")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Bench runs the store benchmarks on a store from open (called once per
// sub-benchmark group; the data set is built once):
//
//   - GetByID and FindSelector with 32 concurrent goroutines, reporting
//     ops/s and p99 latency;
//   - BulkInsert: Bulk of 1000 new documents per call, reporting docs/s;
//   - Range: History of one series over a time window, on a collection
//     holding HistoryPoints() points, reporting points/s.
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
	b.Run("Range", func(b *testing.B) {
		st := open(b)
		points := HistoryPoints()
		t0 := loadHistory(b, st, points)
		perSeries := points / benchSeries
		window := perSeries / 10 // points of one series in the window
		b.Run(fmt.Sprintf("series-window-%dpts/of-%d", window, points), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			total := 0
			for b.Loop() {
				start := r.IntN(perSeries - window)
				from := t0.Add(time.Duration(start) * time.Second)
				pts, err := st.History(ctx, "demo", "meters", store.HistoryQuery{ID: docID(r.IntN(benchSeries)),
					Field: "measurements.p", From: from, To: from.Add(time.Duration(window-1) * time.Second)})
				if err != nil || len(pts) != window {
					b.Fatalf("History: %d points, %v; want %d", len(pts), err, window)
				}
				total += len(pts)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "points/s")
		})
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

// loadHistory writes points history points through ApplyBatch: benchSeries
// documents, one point per second each, in batches of 5000 updates.
func loadHistory(tb testing.TB, st store.Store, points int) time.Time {
	tb.Helper()
	putDemoTB(tb, st)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	const per = 5000
	var seq uint64 = 1
	for n := 0; n < points; n += per {
		b := &model.Batch{Edge: "bench", SeqFirst: seq}
		for i := n; i < n+per && i < points; i++ {
			ts := t0.Add(time.Duration(i/benchSeries) * time.Second)
			b.Updates = append(b.Updates, model.Update{Layer: "demo", Collection: "meters", ID: docID(i % benchSeries), TS: ts,
				Set: map[string]any{"measurements.p": model.Measurement{Value: float64(i), Quality: model.QualityGood, Timestamp: ts}}})
		}
		b.SeqLast = seq + uint64(len(b.Updates)) - 1
		seq = b.SeqLast + 1
		if _, err := st.ApplyBatch(ctx, b, store.ApplyOptions{}); err != nil {
			tb.Fatalf("ApplyBatch: %v", err)
		}
	}
	tb.Logf("built %d history points through ApplyBatch in %v", points, time.Since(start).Round(time.Millisecond))
	return t0
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
