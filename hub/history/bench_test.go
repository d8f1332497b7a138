package history

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// waveform is a realistic reading of tag k of device d at second s: a
// mains-like value with a slow daily swing and noise, at a register's
// resolution (0.1).
func waveform(d, k, s int, rng *rand.Rand) float64 {
	base := 100 + float64(k)*10
	v := base*(1+0.05*math.Sin(2*math.Pi*float64(s)/86400+float64(d))) + rng.NormFloat64()*0.5
	return math.Round(v*10) / 10
}

// BenchmarkBytesPerReading writes devices × 30 tags for a span at an
// interval, compacts, and reports the bytes of the blocks per reading (the
// WAL excluded), and the latency of a one-field query over the span.
func BenchmarkBytesPerReading(b *testing.B) {
	for _, c := range []struct {
		name     string
		devices  int
		span     time.Duration
		interval time.Duration
	}{{"50x30@1s_6h", 50, 6 * time.Hour, time.Second}, {"50x30@1m_7d", 50, 7 * 24 * time.Hour, time.Minute}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				db, err := OpenTSDB(TSDBOptions{Dir: dir})
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
				steps := int(c.span / c.interval)
				batch := make([]Sample, 0, c.devices*30)
				for s := range steps {
					batch = batch[:0]
					ts := start.Add(time.Duration(s) * c.interval)
					for d := range c.devices {
						for k := range 30 {
							batch = append(batch, Sample{Layer: "demo", Collection: "meters", ID: fmt.Sprintf("D%03d", d),
								Field: fmt.Sprintf("measurements.t%02d", k), T: ts, Value: waveform(d, k, s*int(c.interval/time.Second), rng), Quality: 1})
						}
					}
					if _, err := db.Append(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
				}
				if err := db.DB().Compact(context.Background()); err != nil {
					b.Fatal(err)
				}
				readings := float64(steps * c.devices * 30)
				// the head keeps the newest hours: count the readings the
				// blocks cover
				var blocks, index int64
				var covered time.Duration
				for _, bl := range db.DB().Blocks() {
					blocks += dirSize(bl.Dir())
					index += dirSize(filepath.Join(bl.Dir(), "index"))
					covered += time.Duration(bl.MaxTime()-bl.MinTime()) * time.Millisecond
				}
				inBlocks := float64(c.devices*30) * float64(covered/c.interval)
				if inBlocks == 0 {
					b.Fatal("no block after compaction")
				}
				b.ReportMetric(float64(blocks)/inBlocks, "block-bytes/reading")
				b.ReportMetric(float64(index)/inBlocks, "index-bytes/reading")
				b.ReportMetric(float64(dirSize(dir))/readings, "dir-bytes/reading")
				t0 := time.Now()
				err = db.Select(context.Background(), Query{Layer: "demo", Collection: "meters", IDs: []string{"D001"}, Fields: []string{"measurements.t05"},
					From: start, To: start.Add(c.span)}, func(s Series) error {
					cw := NewCSVWriter(io.Discard, false)
					return cw.Write(s)
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms/one-field-query")
				db.Close()
			}
		})
	}
}

// BenchmarkQuery builds 10 documents × 30 fields × 30 days of 1-minute
// data (12.96 M points, compacted) plus one field of one day at 1 s, then
// measures: one field over one day of 1 s data (86,400 points, raw, to
// CSV); 30 fields × 30 days aggregated to 1 h (step avg); and a CSV
// export of everything (rows/s, and the bytes allocated per row, which
// stay flat whatever the size).
func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	db, err := OpenTSDB(TSDBOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	const docs, fields, days = 10, 30, 30
	batch := make([]Sample, 0, docs*fields)
	for m := range days * 24 * 60 {
		batch = batch[:0]
		ts := start.Add(time.Duration(m) * time.Minute)
		for d := range docs {
			for k := range fields {
				batch = append(batch, Sample{Layer: "demo", Collection: "meters", ID: fmt.Sprintf("D%03d", d),
					Field: fmt.Sprintf("measurements.t%02d", k), T: ts, Value: waveform(d, k, m*60, rng), Quality: 1})
			}
		}
		if _, err := db.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if m%(6*60) == 0 {
			if err := db.DB().Compact(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	oneDay := start.Add(days * 24 * time.Hour)
	for s := range 86400 {
		ts := oneDay.Add(time.Duration(s) * time.Second)
		if _, err := db.Append(ctx, []Sample{{Layer: "demo", Collection: "fast", ID: "F1", Field: "measurements.v", T: ts, Value: waveform(1, 1, s, rng), Quality: 1}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.DB().Compact(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()

	count := func(q Query) (int, error) {
		n := 0
		err := db.Select(ctx, q, func(s Series) error {
			for range s.Points {
				n++
			}
			return nil
		})
		return n, err
	}
	b.Run("one-field-1day-1s", func(b *testing.B) {
		for b.Loop() {
			err := db.Select(ctx, Query{Layer: "demo", Collection: "fast", IDs: []string{"F1"}, Fields: []string{"measurements.v"},
				From: oneDay, To: oneDay.Add(24*time.Hour - time.Second)}, NewCSVWriter(io.Discard, false).Write)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
	})
	b.Run("30fields-30days-1m-to-1h", func(b *testing.B) {
		for b.Loop() {
			n, err := count(Query{Layer: "demo", Collection: "meters", IDs: []string{"D003"}, From: start, To: oneDay.Add(-time.Minute), Step: time.Hour, Agg: AggAvg})
			if err != nil || n != fields*days*24 {
				b.Fatalf("%d points, %v; want %d", n, err, fields*days*24)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
	})
	b.Run("csv-export-12.96M-rows", func(b *testing.B) {
		var before, after runtime.MemStats
		var rows int64
		for b.Loop() {
			runtime.GC()
			runtime.ReadMemStats(&before)
			cw := &lineCounter{}
			w := NewCSVWriter(cw, false)
			if err := db.Select(ctx, Query{Layer: "demo", Collection: "meters", From: start, To: oneDay}, w.Write); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			rows += cw.n - 1
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(rows/int64(b.N)), "alloc-bytes/row")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB-after")
	})
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
