package bolt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Index benchmarks (go test -run '^$' -bench 'Indexed|Scan10k|Near100k|BulkInsertIndexes' ./store/bolt):
// each reports queries/s (or docs/s) and p99 latency of single queries.

// genDoc is a document the size of the seed's gridflex_generators, with a
// point in a 5° × 5° area.
func genDoc(i int) store.Document {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	r := rand.New(rand.NewPCG(uint64(i), 7))
	return store.Document{
		"_id": fmt.Sprintf("g%06d", i), "kind": []string{"meter", "inverter"}[i%2], "n": float64(i),
		"substation": fmt.Sprintf("CR_I%d", i%500), "voltageLevel": "CR_I8_1",
		"measurements": map[string]any{
			"activePower":   map[string]any{"value": float64(i), "quality": 1.0, "timestamp": ts},
			"reactivePower": map[string]any{"value": 366.02, "quality": 1.0, "timestamp": ts},
		},
		"timestamp": ts,
		"geometry":  map[string]any{"type": "Point", "coordinates": []any{5 + r.Float64()*5, 45 + r.Float64()*5}},
	}
}

var benchIndexes = []store.Index{
	{Fields: store.IndexFields{{Path: "measurements.activePower.value", Order: 1}}},
	{Fields: store.IndexFields{{Path: "substation", Order: 1}}},
	{Fields: store.IndexFields{{Path: "geometry", Geo: true}}},
	{Fields: store.IndexFields{{Path: "n", Order: -1}}, Unique: true},
	{Fields: store.IndexFields{{Path: "kind", Order: 1}, {Path: "n", Order: 1}}},
}

// benchStore opens a store holding n documents in g/m with the given
// indexes declared before loading.
func benchStore(b *testing.B, n int, ixs []store.Index) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.PutLayer(ctx, store.Layer{ID: "g", Collections: []store.Collection{{Name: "m", Indexes: ixs}}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 5000 {
		docs := make([]store.Document, 0, 5000)
		for j := i; j < min(i+5000, n); j++ {
			docs = append(docs, genDoc(j))
		}
		if res, err := s.Insert(ctx, "g", "m", docs); err != nil || res.Err != 0 {
			b.Fatalf("Insert: %v %v", res.Errors, err)
		}
	}
	return s
}

// cpuTime is the CPU time the process used so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs q b.N times and reports queries/s, the p99 latency and the
// CPU time per query (on a shared machine the wall-clock figures depend on
// the load; the CPU time much less).
func measure(b *testing.B, q func(r *rand.Rand) (int, error)) {
	r := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		t := time.Now()
		n, err := q(r)
		lat = append(lat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("query returned no documents")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/query")
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func mustSel(b *testing.B, m map[string]any) *query.Selector {
	s, err := query.CompileSelector(m)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkFindIndexedEq100k(b *testing.B) {
	s := benchStore(b, 100_000, benchIndexes[:2])
	ctx := context.Background()
	measure(b, func(r *rand.Rand) (int, error) {
		sel := mustSel(b, map[string]any{"substation": fmt.Sprintf("CR_I%d", r.IntN(500))})
		docs, err := s.Find(ctx, "g", "m", store.FindOptions{Selector: sel, Limit: 20})
		return len(docs), err
	})
}

func BenchmarkFindIndexedRange100k(b *testing.B) {
	s := benchStore(b, 100_000, benchIndexes[:2])
	ctx := context.Background()
	measure(b, func(r *rand.Rand) (int, error) {
		lo := float64(r.IntN(100_000 - 50))
		sel := mustSel(b, map[string]any{"measurements.activePower.value": map[string]any{"$gte": lo, "$lt": lo + 50}})
		docs, err := s.Find(ctx, "g", "m", store.FindOptions{Selector: sel, Limit: 20})
		return len(docs), err
	})
}

// BenchmarkFindScan10k is a selector no index serves: a full scan.
func BenchmarkFindScan10k(b *testing.B) {
	s := benchStore(b, 10_000, nil)
	ctx := context.Background()
	measure(b, func(r *rand.Rand) (int, error) {
		lo := float64(r.IntN(10_000 - 50))
		sel := mustSel(b, map[string]any{"kind": "meter", "n": map[string]any{"$gte": lo, "$lt": lo + 50}})
		docs, err := s.Find(ctx, "g", "m", store.FindOptions{Selector: sel, Limit: 20})
		return len(docs), err
	})
}

func BenchmarkNear100k(b *testing.B) {
	s := benchStore(b, 100_000, benchIndexes[2:3])
	ctx := context.Background()
	measure(b, func(r *rand.Rand) (int, error) {
		lon, lat := 5.5+r.Float64()*4, 45.5+r.Float64()*4
		docs, err := s.Near(ctx, "g", "m", lon, lat, 50_000, store.FindOptions{Limit: 20})
		return len(docs), err
	})
}

func BenchmarkBulkInsertIndexes(b *testing.B) {
	for _, k := range []int{0, 2, 5} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			s := benchStore(b, 0, benchIndexes[:k])
			ctx := context.Background()
			b.ResetTimer()
			cpu0 := cpuTime()
			for n := 0; n < b.N; n += 1000 {
				docs := make([]store.Document, 0, 1000)
				for i := n; i < min(n+1000, b.N); i++ {
					docs = append(docs, genDoc(i))
				}
				if res, err := s.Bulk(ctx, "g", "m", docs, false); err != nil || res.Err != 0 {
					b.Fatalf("Bulk: %v %v", res.Errors, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/doc")
		})
	}
}
