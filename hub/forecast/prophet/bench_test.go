package prophet

import (
	"context"
	"testing"
	"time"
)

// BenchmarkFit fits synthetic series of the benchmark datasets' shapes
// (the real ones and R Prophet's figures: go run ./forecast/bench).
func BenchmarkFit(b *testing.B) {
	cases := []struct {
		name string
		n    int
		step time.Duration
	}{
		{"daily_2500", 2500, 24 * time.Hour},
		{"hourly_33k", 33000, time.Hour},
	}
	for _, c := range cases {
		f := synthetic(c.n, c.step, false, 2, 1)
		for _, opt := range []string{OptimizerStan, OptimizerExact} {
			b.Run(c.name+"_"+opt, func(b *testing.B) {
				for b.Loop() {
					m, err := New(Options{Optimizer: opt})
					if err != nil {
						b.Fatal(err)
					}
					if err := m.Fit(context.Background(), f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFitShort fits the first 84 rows of Prophet's retail sales
// example, where both Prophet and the stan optimizer use Stan's Newton
// optimizer (R Prophet 1.0: 152 iterations).
func BenchmarkFitShort(b *testing.B) {
	train, _ := readExample(b, "prophet_example_retail_sales.csv", 96, 12)
	for _, opt := range []string{OptimizerStan, OptimizerExact} {
		b.Run(opt, func(b *testing.B) {
			for b.Loop() {
				m, err := New(Options{Optimizer: opt})
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Fit(context.Background(), train); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
