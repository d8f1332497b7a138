package prophet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/optimize"
)

// objective is the negative log posterior of Prophet's Stan model (constants
// dropped) and its gradient. The parameter vector is
//
//	[k, m, δ_1..δ_S, log σ, β_1..β_K]
//
// (σ is optimised on the log scale without a Jacobian term, which is what
// Stan's optimizer does, so the mode is the same).
type objective struct {
	growth string
	t, y   []float64
	capS   []float64
	cps    []float64 // changepoints, sorted
	seg    []int     // seg[i]: number of changepoints ≤ t[i]
	d      *design
	mult   []bool
	prior2 []float64 // prior variance of each β
	tau    float64
	anyMul bool

	// scratch, reused between evaluations
	ks, ms, gk, gm []float64
	trend, xa, xm  []float64
	ba, bm         []float64
	dz             []float64
}

func newObjective(growth string, h *history, cps []float64, d *design, tau float64) *objective {
	n, s, k := len(h.t), len(cps), len(d.cols)
	o := &objective{
		growth: growth, t: h.t, y: h.y, capS: h.capS, cps: cps, d: d, tau: tau,
		seg: make([]int, n), mult: make([]bool, k), prior2: make([]float64, k),
		ks: make([]float64, s+1), ms: make([]float64, s+1), gk: make([]float64, s+1), gm: make([]float64, s+1),
		trend: make([]float64, n), xa: make([]float64, n), xm: make([]float64, n),
		ba: make([]float64, k), bm: make([]float64, k), dz: make([]float64, n),
	}
	for i, t := range h.t {
		o.seg[i] = sort.Search(s, func(j int) bool { return cps[j] > t })
	}
	for j, c := range d.cols {
		o.mult[j] = c.mult
		o.anyMul = o.anyMul || c.mult
		o.prior2[j] = c.priorScale * c.priorScale
	}
	return o
}

func (o *objective) dim() int { return 3 + len(o.cps) + len(o.d.cols) }

// segments fills ks (rate) and ms (linear offset, or the logistic offset
// m + Aγ) of each segment between changepoints.
func segments(growth string, k, m float64, delta, cps, ks, ms []float64) {
	ks[0], ms[0] = k, m
	for j, dj := range delta {
		ks[j+1] = ks[j] + dj
		if growth == GrowthLogistic {
			// Prophet's γ keeps the logistic curve continuous at each changepoint.
			ms[j+1] = cps[j] + (ms[j]-cps[j])*ks[j]/ks[j+1]
		} else {
			ms[j+1] = ms[j] - cps[j]*dj
		}
	}
}

// eval returns the objective at x and, when grad is not nil, writes its
// gradient.
func (o *objective) eval(x, grad []float64) float64 {
	s, kk, n := len(o.cps), len(o.d.cols), len(o.t)
	k, m := x[0], x[1]
	delta := x[2 : 2+s]
	u := x[2+s]
	sigma := math.Exp(u)
	beta := x[3+s:]
	segments(o.growth, k, m, delta, o.cps, o.ks, o.ms)
	for j, b := range beta {
		if o.mult[j] {
			o.ba[j], o.bm[j] = 0, b
		} else {
			o.ba[j], o.bm[j] = b, 0
		}
	}
	// Trend.
	for i, t := range o.t {
		c := o.seg[i]
		switch o.growth {
		case GrowthFlat:
			o.trend[i] = m
		case GrowthLogistic:
			e := math.Exp(-o.ks[c] * (t - o.ms[c]))
			sg := 1 / (1 + e)
			o.trend[i] = o.capS[i] * sg
			o.dz[i] = o.capS[i] * sg * (1 - sg)
		default:
			o.trend[i] = o.ks[c]*t + o.ms[c]
		}
	}
	// Features.
	x0 := o.d.x
	for i := range n {
		row := x0[i*kk : i*kk+kk]
		var a, mu float64
		for j, v := range row {
			a += v * o.ba[j]
			if o.anyMul {
				mu += v * o.bm[j]
			}
		}
		o.xa[i], o.xm[i] = a, mu
	}
	// Likelihood.
	inv := 1 / (sigma * sigma)
	var ss float64
	for i := range n {
		r := o.y[i] - (o.trend[i]*(1+o.xm[i]) + o.xa[i])
		ss += r * r
		if grad != nil {
			o.xa[i] = -r * inv // reuse xa as dF/dmu
		}
	}
	f := 0.5*ss*inv + float64(n)*u
	f += (k*k + m*m) / 50
	for _, dj := range delta {
		f += math.Abs(dj) / o.tau
	}
	f += 2 * sigma * sigma
	for j, b := range beta {
		f += b * b / (2 * o.prior2[j])
	}
	if grad == nil {
		return f
	}
	clear(grad)
	gbeta := grad[3+s:]
	for i := range n {
		g := o.xa[i]
		if g == 0 {
			continue
		}
		row := x0[i*kk : i*kk+kk]
		gt := g * o.trend[i]
		for j, v := range row {
			if o.mult[j] {
				gbeta[j] += v * gt
			} else {
				gbeta[j] += v * g
			}
		}
	}
	clear(o.gk)
	clear(o.gm)
	for i, t := range o.t {
		gt := o.xa[i] * (1 + o.xm[i])
		c := o.seg[i]
		switch o.growth {
		case GrowthFlat:
			o.gm[0] += gt
		case GrowthLogistic:
			gz := gt * o.dz[i]
			o.gk[c] += gz * (t - o.ms[c])
			o.gm[c] += -gz * o.ks[c]
		default:
			o.gk[c] += gt * t
			o.gm[c] += gt
		}
	}
	switch o.growth {
	case GrowthLogistic:
		for j := s - 1; j >= 0; j-- {
			dm := o.ms[j] - o.cps[j]
			rho := o.ks[j] / o.ks[j+1]
			o.gk[j] += o.gm[j+1] * dm / o.ks[j+1]
			o.gk[j+1] -= o.gm[j+1] * dm * o.ks[j] / (o.ks[j+1] * o.ks[j+1])
			o.gm[j] += o.gm[j+1] * rho
		}
		grad[1] = o.gm[0]
		var acc float64
		for c := s; c >= 1; c-- {
			acc += o.gk[c]
			grad[2+c-1] = acc
		}
		grad[0] = acc + o.gk[0]
	case GrowthFlat:
		grad[1] = o.gm[0]
	default:
		var acck, accm float64
		for c := s; c >= 1; c-- {
			acck += o.gk[c]
			accm += o.gm[c]
			grad[2+c-1] = acck - o.cps[c-1]*accm
		}
		grad[0] = acck + o.gk[0]
		grad[1] = accm + o.gm[0]
	}
	grad[0] += k / 25
	grad[1] += m / 25
	for j, dj := range delta {
		switch {
		case dj > 0:
			grad[2+j] += 1 / o.tau
		case dj < 0:
			grad[2+j] -= 1 / o.tau
		}
	}
	grad[2+s] = -ss*inv + float64(n) + 4*sigma*sigma
	for j, b := range beta {
		gbeta[j] += b / o.prior2[j]
	}
	return f
}

// ctxRecorder stops the optimiser when the context is done.
type ctxRecorder struct{ ctx context.Context }

func (r ctxRecorder) Init() error { return nil }

func (r ctxRecorder) Record(*optimize.Location, optimize.Operation, *optimize.Stats) error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", errCancelled, err)
	}
	return nil
}

// optimize finds the MAP parameters with L-BFGS.
func (m *Model) optimize(ctx context.Context, h *history, d *design) (Params, int, error) {
	st := m.st
	o := newObjective(m.opts.Growth, h, st.ChangepointsT, d, m.opts.ChangepointPriorScale)
	s := len(st.ChangepointsT)
	x0 := make([]float64, o.dim())
	x0[0], x0[1] = m.initParams(h)
	// log σ = 0: Prophet starts at σ = 1.
	var lastX, lastG []float64
	var lastF float64
	evalCached := func(x []float64) (float64, []float64) {
		if lastX != nil && equal(lastX, x) {
			return lastF, lastG
		}
		if lastX == nil {
			lastX, lastG = make([]float64, len(x)), make([]float64, len(x))
		}
		copy(lastX, x)
		lastF = o.eval(x, lastG)
		return lastF, lastG
	}
	prob := optimize.Problem{
		Func: func(x []float64) float64 { f, _ := evalCached(x); return f },
		Grad: func(g, x []float64) { _, gg := evalCached(x); copy(g, gg) },
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-8,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-12, Iterations: 20},
		MajorIterations:   m.opts.MaxIterations,
		Recorder:          ctxRecorder{ctx},
	}
	res, err := optimize.Minimize(prob, x0, settings, &optimize.LBFGS{Store: 10})
	if err != nil {
		if errors.Is(err, errCancelled) || ctx.Err() != nil {
			return Params{}, 0, fmt.Errorf("fit: %w", ctx.Err())
		}
		// A failed line search near a kink of |δ| still leaves the best point
		// found, which is the optimum to within the tolerances.
		if res == nil || math.IsNaN(res.F) || math.IsInf(res.F, 0) {
			return Params{}, 0, fmt.Errorf("fit: optimise: %w", err)
		}
	}
	x := res.X
	p := Params{K: x[0], M: x[1], Delta: append([]float64(nil), x[2:2+s]...), SigmaObs: math.Exp(x[2+s]), Beta: append([]float64(nil), x[3+s:]...)}
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Params{}, 0, fmt.Errorf("fit: optimiser diverged (%v)", res.Status)
		}
	}
	return p, res.MajorIterations, nil
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
