package agent

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	origGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(origGC) })
	tests := []struct {
		name     string
		mib      int
		envLimit string
		want     int64
	}{
		{name: "default: no limit", mib: 0, want: math.MaxInt64},
		{name: "memoryLimitMiB", mib: 64, want: 64 << 20},
		{name: "GOMEMLIMIT wins", mib: 64, envLimit: "100MiB", want: math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			t.Setenv("GOMEMLIMIT", tc.envLimit)
			applyMemoryLimit(&Config{MemoryLimitMiB: tc.mib}, quiet)
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("memory limit: got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestApplyGCPercent(t *testing.T) {
	origGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(origGC) })
	tests := []struct {
		name string
		pct  int
		gogc string
		want int
	}{
		{name: "default", pct: 0, want: defaultGCPercent},
		{name: "gcPercent", pct: 60, want: 60},
		{name: "GOGC wins", pct: 60, gogc: "100", want: 77}, // left as it was
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(77)
			t.Setenv("GOGC", tc.gogc)
			applyMemoryLimit(&Config{GCPercent: tc.pct}, quiet)
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GC percent: got %d, want %d", got, tc.want)
			}
		})
	}
}
