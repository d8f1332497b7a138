package history

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
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

func dirSize(t testing.TB, dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
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
					blocks += dirSize(b, bl.Dir())
					index += dirSize(b, filepath.Join(bl.Dir(), "index"))
					covered += time.Duration(bl.MaxTime()-bl.MinTime()) * time.Millisecond
				}
				inBlocks := float64(c.devices*30) * float64(covered/c.interval)
				if inBlocks == 0 {
					b.Fatal("no block after compaction")
				}
				b.ReportMetric(float64(blocks)/inBlocks, "block-bytes/reading")
				b.ReportMetric(float64(index)/inBlocks, "index-bytes/reading")
				b.ReportMetric(float64(dirSize(b, dir))/readings, "dir-bytes/reading")
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
