package prophet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Forecast holds a prediction, one entry per row of the frame predicted.
type Forecast struct {
	DS []time.Time
	// Yhat is the point forecast: Trend·(1 + Multiplicative) + Additive.
	Yhat []float64
	// YhatLower and YhatUpper bound the uncertainty interval (nil when the
	// model has no uncertainty samples).
	YhatLower, YhatUpper []float64
	// Trend is g(t) in the units of y.
	Trend []float64
	// Additive is the sum of additive terms in the units of y.
	Additive []float64
	// Multiplicative is the sum of multiplicative terms (a factor).
	Multiplicative []float64
	// Components are each seasonality, holiday and regressor's contribution
	// (in the units of y for additive ones, a factor for multiplicative ones).
	Components map[string][]float64
}

// trendAt evaluates the fitted trend (scaled) at scaled times t with
// changepoints cps and rate changes delta.
func (m *Model) trendAt(t, capS []float64, k, mm float64, delta, cps []float64, out []float64) {
	ks := make([]float64, len(cps)+1)
	ms := make([]float64, len(cps)+1)
	segments(m.opts.Growth, k, mm, delta, cps, ks, ms)
	for i, ti := range t {
		c := sort.Search(len(cps), func(j int) bool { return cps[j] > ti })
		switch m.opts.Growth {
		case GrowthFlat:
			out[i] = mm
		case GrowthLogistic:
			out[i] = capS[i] / (1 + math.Exp(-ks[c]*(ti-ms[c])))
		default:
			out[i] = ks[c]*ti + ms[c]
		}
	}
}

// Predict forecasts the rows of f (its ds, plus cap/floor for logistic
// growth, regressors and conditions the model uses). Intervals are
// simulated with the model's seed, so the same call gives the same result.
func (m *Model) Predict(f *Frame) (*Forecast, error) {
	if m.st == nil {
		return nil, ErrNotFitted
	}
	if err := f.check(m, false); err != nil {
		return nil, fmt.Errorf("check frame: %w", err)
	}
	st := m.st
	n := f.Len()
	t := make([]float64, n)
	floor := make([]float64, n)
	var capS []float64
	for i, ds := range f.DS {
		t[i] = ds.Sub(st.Start).Seconds() / st.TScale
		if st.LogisticFloor {
			floor[i] = f.Floor[i]
		}
	}
	if m.opts.Growth == GrowthLogistic {
		capS = make([]float64, n)
		for i := range n {
			capS[i] = (f.Cap[i] - floor[i]) / st.YScale
		}
	}
	d, err := m.makeDesign(f)
	if err != nil {
		return nil, fmt.Errorf("build features: %w", err)
	}
	fc := &Forecast{
		DS: slices.Clone(f.DS), Yhat: make([]float64, n), Trend: make([]float64, n),
		Additive: make([]float64, n), Multiplicative: make([]float64, n),
		Components: map[string][]float64{},
	}
	p := st.Params
	m.trendAt(t, capS, p.K, p.M, p.Delta, st.ChangepointsT, fc.Trend)
	for i := range n {
		fc.Trend[i] = fc.Trend[i]*st.YScale + floor[i]
	}
	k := len(d.cols)
	for j, c := range d.cols {
		comp := fc.Components[c.component]
		if comp == nil {
			comp = make([]float64, n)
			fc.Components[c.component] = comp
		}
		b := p.Beta[j]
		if b == 0 {
			continue
		}
		for i := range n {
			v := d.x[i*k+j] * b
			if c.mult {
				comp[i] += v
				fc.Multiplicative[i] += v
			} else {
				comp[i] += v * st.YScale
				fc.Additive[i] += v * st.YScale
			}
		}
	}
	for i := range n {
		fc.Yhat[i] = fc.Trend[i]*(1+fc.Multiplicative[i]) + fc.Additive[i]
	}
	if ns := *m.opts.UncertaintySamples; ns > 0 {
		fc.YhatLower, fc.YhatUpper = m.intervals(t, capS, floor, fc, ns)
	}
	return fc, nil
}

// intervals simulates ns paths as Prophet does (future trend changes from a
// Poisson process with the history's changepoint rate and Laplace
// magnitudes of the mean fitted |δ|, plus Normal observation noise) and
// returns the interval's quantiles at each row.
func (m *Model) intervals(t, capS, floor []float64, fc *Forecast, ns int) (lo, hi []float64) {
	st, p := m.st, m.st.Params
	n := len(t)
	rng := rand.New(rand.NewPCG(m.opts.Seed, 0x9e3779b97f4a7c15))
	T := slices.Max(t)
	S := float64(len(st.ChangepointsT))
	var lambda float64
	for _, d := range p.Delta {
		lambda += math.Abs(d)
	}
	lambda = lambda/math.Max(1, float64(len(p.Delta))) + 1e-8
	samples := make([][]float64, n)
	for i := range samples {
		samples[i] = make([]float64, ns)
	}
	trend := make([]float64, n)
	cps := slices.Clone(st.ChangepointsT)
	deltas := slices.Clone(p.Delta)
	for s := range ns {
		cps, deltas = cps[:len(st.ChangepointsT)], deltas[:len(p.Delta)]
		nNew := 0
		if T > 1 {
			nNew = poisson(rng, S*(T-1))
		}
		if nNew > 0 {
			newT := make([]float64, nNew)
			for j := range newT {
				newT[j] = 1 + rng.Float64()*(T-1)
			}
			slices.Sort(newT)
			for j := range newT {
				cps = append(cps, newT[j])
				deltas = append(deltas, laplace(rng, lambda))
			}
		}
		m.trendAt(t, capS, p.K, p.M, deltas, cps, trend)
		for i := range n {
			tr := trend[i]*st.YScale + floor[i]
			samples[i][s] = tr*(1+fc.Multiplicative[i]) + fc.Additive[i] + rng.NormFloat64()*p.SigmaObs*st.YScale
		}
	}
	w := m.opts.IntervalWidth
	lo, hi = make([]float64, n), make([]float64, n)
	for i := range n {
		slices.Sort(samples[i])
		lo[i] = percentile(samples[i], (1-w)/2)
		hi[i] = percentile(samples[i], 1-(1-w)/2)
	}
	return lo, hi
}

// percentile is numpy's linear-interpolation percentile of sorted v, q in [0, 1].
func percentile(v []float64, q float64) float64 {
	pos := q * float64(len(v)-1)
	i := int(math.Floor(pos))
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	fr := pos - float64(i)
	return v[i] + fr*(v[i+1]-v[i])
}

// laplace draws from Laplace(0, b).
func laplace(rng *rand.Rand, b float64) float64 {
	u := rng.Float64() - 0.5
	if u < 0 {
		return b * math.Log(1+2*u)
	}
	return -b * math.Log(1-2*u)
}

// poisson draws from Poisson(lambda) exactly (no approximation), as Prophet:
// Knuth's product method for small means, gonum's rejection sampler for
// large ones (forecasts reaching further than 1.2 histories ahead).
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return int(distuv.Poisson{Lambda: lambda, Src: rng}.Rand())
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
