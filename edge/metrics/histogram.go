package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// LatencyBuckets are upper bounds in seconds suited to Modbus requests and
// acknowledgements over a WAN: 1 ms to 10 s.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Hist counts observations into fixed buckets. It is safe for concurrent
// use and does not allocate when observing.
type Hist struct {
	bounds []float64
	counts []atomic.Uint64 // one per bound, plus +Inf
	sum    atomic.Uint64   // float64 bits
	count  atomic.Uint64
}

// NewHist returns a histogram with the given strictly increasing, finite
// upper bounds.
func NewHist(bounds []float64) (*Hist, error) {
	if len(bounds) == 0 {
		return nil, fmt.Errorf("metrics: a histogram needs at least one bucket bound")
	}
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, fmt.Errorf("metrics: bucket bound %d is %v; bounds must be finite (+Inf is implied)", i, b)
		}
		if i > 0 && b <= bounds[i-1] {
			return nil, fmt.Errorf("metrics: bucket bounds must increase: %v after %v", b, bounds[i-1])
		}
	}
	return &Hist{bounds: slices.Clone(bounds), counts: make([]atomic.Uint64, len(bounds)+1)}, nil
}

// NewLatencyHist is a histogram with LatencyBuckets.
func NewLatencyHist() *Hist {
	h, _ := NewHist(LatencyBuckets) // valid by construction
	return h
}

// Observe records v.
func (h *Hist) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v: le is inclusive
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

// ObserveDuration records d in seconds.
func (h *Hist) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// HistogramSnapshot is a histogram's state: non-cumulative counts per
// bound (Writer.Histogram makes them cumulative), their sum and count.
type HistogramSnapshot struct {
	// Bounds are the buckets' upper bounds, without +Inf.
	Bounds []float64
	// Counts are the observations per bucket (len(Bounds)); those above
	// the last bound are only in Count.
	Counts []uint64
	// Sum is the sum of the observations.
	Sum float64
	// Count is the number of observations.
	Count uint64
}

// Snapshot reads the histogram. Under concurrent observations Count may be
// read slightly ahead of the buckets; it is read last, and the +Inf
// bucket, which the writer takes from Count, stays at least the sum of
// the others.
func (h *Hist) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Bounds: h.bounds, Counts: make([]uint64, len(h.bounds))}
	var n uint64
	for i := range h.bounds {
		s.Counts[i] = h.counts[i].Load()
		n += s.Counts[i]
	}
	s.Sum = math.Float64frombits(h.sum.Load())
	s.Count = max(h.count.Load(), n)
	return s
}
