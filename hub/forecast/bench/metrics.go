package main

import (
	"math"
	"slices"
)

// metrics are one forecast's accuracy figures (the reference script's
// definitions).
type metrics struct {
	MAPE, SMAPE, MASE, Cov float64
	// CovSeeds is the coverage averaged over the interval simulation's
	// seeds (-seeds; Cov when 1).
	CovSeeds float64
}

// score computes MAPE and sMAPE (percent), MASE against the in-sample
// seasonal naive forecast of period m, and the share of y inside the band.
func score(y, yhat, lo, hi, train []float64, m int) metrics {
	var ape, sape, ae, in float64
	for i := range y {
		e := math.Abs(y[i] - yhat[i])
		ape += e / math.Abs(y[i])
		sape += 2 * e / (math.Abs(y[i]) + math.Abs(yhat[i]))
		ae += e
		if y[i] >= lo[i] && y[i] <= hi[i] {
			in++
		}
	}
	var scale float64
	cnt := 0
	for i := m; i < len(train); i++ {
		if math.IsNaN(train[i]) || math.IsNaN(train[i-m]) {
			continue
		}
		scale += math.Abs(train[i] - train[i-m])
		cnt++
	}
	n := float64(len(y))
	return metrics{MAPE: 100 * ape / n, SMAPE: 100 * sape / n, MASE: ae / n / (scale / float64(cnt)), Cov: in / n}
}

// mean averages the metrics of rolling windows.
func mean(ms []metrics) metrics {
	var out metrics
	for _, m := range ms {
		out.MAPE += m.MAPE
		out.SMAPE += m.SMAPE
		out.MASE += m.MASE
		out.Cov += m.Cov
		out.CovSeeds += m.CovSeeds
	}
	n := float64(len(ms))
	return metrics{out.MAPE / n, out.SMAPE / n, out.MASE / n, out.Cov / n, out.CovSeeds / n}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
