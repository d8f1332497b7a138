package history

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/gridedge/gridedge/shared/config"
)

// BenchmarkDownsampleJob writes one day of 1 s data of 30 fields into the
// raw store, then times the job aggregating it to 1 h: raw points
// aggregated per second, and the bytes the aggregate blocks add per raw
// reading.
func BenchmarkDownsampleJob(b *testing.B) {
	const fields, span = 30, 24 * time.Hour
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		db, err := OpenTSDB(TSDBOptions{Dir: b.TempDir(), OutOfOrderWindow: time.Hour, DownsampleEvery: -1,
			Downsample: []DownsampleLevel{{Resolution: config.Duration(time.Hour)}}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now().Add(-3 * 24 * time.Hour).Truncate(24 * time.Hour)
		rng := rand.New(rand.NewPCG(1, 2))
		batch := make([]Sample, 0, fields*60)
		secs := int(span / time.Second)
		for s := range secs {
			for k := range fields {
				batch = append(batch, Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: fmt.Sprintf("measurements.t%02d", k),
					T: start.Add(time.Duration(s) * time.Second), Value: waveform(0, k, s, rng), Quality: 1})
			}
			if len(batch) == cap(batch) || s == secs-1 {
				if _, err := db.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		// the newest sample closes the day's periods
		if _, err := db.Append(ctx, []Sample{{Layer: "demo", Collection: "meters", ID: "M0", Field: "measurements.t",
			T: start.Add(span + 2*time.Hour), Value: 1.0, Quality: 1}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		r, err := db.Downsample(ctx)
		took := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if want := fields * secs; r.Points < want {
			b.Fatalf("aggregated %d points, want %d", r.Points, want)
		}
		var bytes int64
		for _, blk := range db.ds.levels[0].db.Blocks() {
			bytes += blk.Size()
		}
		b.ReportMetric(float64(r.Points)/took.Seconds(), "points/s")
		b.ReportMetric(float64(bytes)/float64(r.Points), "B/raw-reading")
		b.ReportMetric(float64(r.Samples)/float64(r.Periods), "samples/period")
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDownsampledQuery times 30 fields × 30 days of 1 s data
// aggregated to 1 h. The 1 h summaries of the 77.8 M readings are folded
// in memory and written straight into the aggregate store (the job's rate
// is BenchmarkDownsampleJob's); the query reads them through Select.
func BenchmarkDownsampledQuery(b *testing.B) {
	const fields, days = 30, 30
	ctx := context.Background()
	dir := b.TempDir()
	db, err := OpenTSDB(TSDBOptions{Dir: dir, DownsampleEvery: -1, Downsample: []DownsampleLevel{{Resolution: config.Duration(time.Hour)}}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	lv := db.ds.levels[0]
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), lv.dir, backfillBlockSize)
	if err != nil {
		b.Fatal(err)
	}
	app := w.Appender(ctx)
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range fields {
		sm := Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: fmt.Sprintf("measurements.t%02d", k)}
		for h := range days * 24 {
			su := summary{start: start.Add(time.Duration(h) * time.Hour).UnixMilli()}
			for s := range 3600 {
				sec := h*3600 + s
				su.add(Point{T: su.start + int64(s)*1000, V: waveform(0, k, sec, rng), Q: 1})
			}
			err := su.write(func(metric, part, state string, v float64) error {
				_, err := app.Append(0, aggLabels(&sm, metric, part, state), su.start, v)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	w.Close()
	if err := lv.db.CompactOOOHead(ctx); err != nil {
		b.Fatal(err)
	}
	end := start.Add(days * 24 * time.Hour)
	if err := lv.saveWatermark(end.UnixMilli()); err != nil {
		b.Fatal(err)
	}
	q := Query{Layer: "demo", Collection: "meters", From: start, To: end.Add(-time.Millisecond), Step: time.Hour, Agg: AggAvg}
	b.ResetTimer()
	for range b.N {
		n := 0
		err := db.Select(ctx, q, func(s Series) error {
			for range s.Points {
				n++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != fields*days*24 {
			b.Fatalf("%d points, want %d", n, fields*days*24)
		}
	}
}
