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
