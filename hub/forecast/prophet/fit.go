package prophet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	growth  string
	t, y    []float64
	capS    []float64
	cps     []float64 // changepoints, sorted
	seg     []int     // seg[i]: number of changepoints ≤ t[i]
	d       *design
	mult    []bool
	prior2  []float64 // prior variance of each β
	tau     float64
	anyMul  bool
	gram    *gram // linear additive models only
	profile bool  // σ set to its optimum for the residuals (see logSigma)
	// l1 is the smoothing width of |δ| (l1Smooth); 0 is Stan's exact |δ|,
	// whose derivative at 0 is taken as 0.
	l1  float64
	gth []float64
	ggr []float64

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
		l1: l1Smooth,
	}
	for i, t := range h.t {
		o.seg[i] = sort.Search(s, func(j int) bool { return cps[j] > t })
	}
	for j, c := range d.cols {
		o.mult[j] = c.mult
		o.anyMul = o.anyMul || c.mult
		o.prior2[j] = c.priorScale * c.priorScale
	}
	if growth == GrowthLinear && !o.anyMul {
		o.gram = newGram(h.t, h.y, cps, d)
		o.gth = make([]float64, o.gram.p)
		o.ggr = make([]float64, o.gram.p)
	}
	return o
}

// l1Smooth is the width of the smoothing of |δ| in the Laplace prior:
// sqrt(δ² + ε²) − ε differs from |δ| by less than ε, far below any trend
// change that matters, and keeps the objective differentiable so L-BFGS
// converges instead of stalling at the kink.
const l1Smooth = 1e-4

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
	beta := x[3+s:]
	if o.gram != nil {
		return o.evalGram(x, grad)
	}
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
	var ss float64
	for i := range n {
		r := o.y[i] - (o.trend[i]*(1+o.xm[i]) + o.xa[i])
		ss += r * r
		o.xa[i] = r // reused below as dF/dmu
	}
	u := o.logSigma(x, ss)
	inv := math.Exp(-2 * u)
	f := 0.5*ss*inv + float64(n)*u + o.priors(x)
	if grad == nil {
		return f
	}
	for i := range n {
		o.xa[i] *= -inv
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
	grad[2+s] = -ss*inv + float64(n)
	o.priorsGrad(x, grad)
	if o.profile {
		grad[2+s] = 0
	}
	return f
}

// logSigma returns log σ: x's, or with profiling the σ that minimises the
// objective for this residual sum of squares, written back into x. In log
// σ the objective is ½·ss·σ⁻² + n·log σ + 2σ², whose minimum solves
// 4σ⁴ + nσ² − ss = 0. Profiling σ out leaves the same joint optimum and
// spares L-BFGS a coordinate whose curvature changes a thousandfold as the
// fit improves.
func (o *objective) logSigma(x []float64, ss float64) float64 {
	s := len(o.cps)
	if !o.profile {
		return x[2+s]
	}
	n := float64(len(o.t))
	s2 := (-n + math.Sqrt(n*n+16*ss)) / 8
	if s2 <= 0 {
		s2 = ss / n
	}
	if s2 <= 1e-300 {
		s2 = 1e-300
	}
	x[2+s] = 0.5 * math.Log(s2)
	return x[2+s]
}

// priors is the negative log prior: k, m ~ N(0, 5), δ ~ Laplace(0, τ),
// σ ~ N⁺(0, 0.5), β ~ N(0, prior scale).
func (o *objective) priors(x []float64) float64 {
	s := len(o.cps)
	k, m, sigma := x[0], x[1], math.Exp(x[2+s])
	f := (k*k+m*m)/50 + 2*sigma*sigma
	for _, dj := range x[2 : 2+s] {
		if o.l1 == 0 {
			f += math.Abs(dj) / o.tau
			continue
		}
		f += (math.Sqrt(dj*dj+o.l1*o.l1) - o.l1) / o.tau
	}
	for j, b := range x[3+s:] {
		f += b * b / (2 * o.prior2[j])
	}
	return f
}

// priorsGrad adds the gradient of priors to grad.
func (o *objective) priorsGrad(x, grad []float64) {
	s := len(o.cps)
	sigma := math.Exp(x[2+s])
	grad[0] += x[0] / 25
	grad[1] += x[1] / 25
	for j, dj := range x[2 : 2+s] {
		switch {
		case o.l1 != 0:
			grad[2+j] += dj / math.Sqrt(dj*dj+o.l1*o.l1) / o.tau
		case dj > 0:
			grad[2+j] += 1 / o.tau
		case dj < 0:
			grad[2+j] -= 1 / o.tau
		}
	}
	grad[2+s] += 4 * sigma * sigma
	for j, b := range x[3+s:] {
		grad[3+s+j] += b / o.prior2[j]
	}
}

// evalGram is eval for linear additive models, from the Gram matrix.
func (o *objective) evalGram(x, grad []float64) float64 {
	s, n := len(o.cps), float64(len(o.t))
	th := o.gth
	copy(th, x[:2+s])
	copy(th[2+s:], x[3+s:])
	var ss float64
	if grad == nil {
		ss = o.gram.residual(th, nil)
		u := o.logSigma(x, ss)
		return 0.5*ss*math.Exp(-2*u) + n*u + o.priors(x)
	}
	gth := o.ggr
	ss = o.gram.residual(th, gth)
	return o.gramGrad(x, ss, gth, grad)
}

// gramGrad finishes evalGram from the residual sum of squares ss and its
// half-gradient gth in θ = (k, m, δ, β).
func (o *objective) gramGrad(x []float64, ss float64, gth, grad []float64) float64 {
	s, n := len(o.cps), float64(len(o.t))
	u := o.logSigma(x, ss)
	inv := math.Exp(-2 * u)
	for j := range 2 + s {
		grad[j] = gth[j] * inv
	}
	for j := 2 + s; j < len(gth); j++ {
		grad[j+1] = gth[j] * inv
	}
	grad[2+s] = -ss*inv + n
	o.priorsGrad(x, grad)
	if o.profile {
		grad[2+s] = 0
	}
	return 0.5*ss*inv + n*u + o.priors(x)
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

// optimize finds the MAP parameters with L-BFGS. For linear additive
// models it works in whitened coordinates (see whitening).
func (m *Model) optimize(ctx context.Context, h *history, d *design) (Params, int, error) {
	st := m.st
	o := newObjective(m.opts.Growth, h, st.ChangepointsT, d, m.opts.ChangepointPriorScale)
	s := len(st.ChangepointsT)
	x0 := make([]float64, o.dim())
	x0[0], x0[1] = m.initParams(h)
	// log σ = 0: Prophet starts at σ = 1.
	if m.opts.Optimizer == OptimizerStan {
		p, iters, err := m.optimizeStan(ctx, o, x0, len(h.t) < stanMinRows)
		if !errors.Is(err, errStanFailed) {
			return p, iters, err
		}
		slog.Debug("forecast: Stan's optimizer failed, fitting with the exact one", "err", err)
		o.l1 = l1Smooth
	}
	var w *whitening
	if o.gram != nil {
		prec := make([]float64, o.gram.p)
		prec[0], prec[1] = 1.0/25, 1.0/25
		for j := range s {
			prec[2+j] = 1e-9 * (o.gram.zz[0] + 1) // δ: Laplace prior, no Gaussian term
		}
		for j, p2 := range o.prior2 {
			prec[2+s+j] = 1 / p2
		}
		var err error
		if w, err = newWhitening(o.gram, prec); err != nil {
			w = nil // fall back to plain coordinates
		}
	}
	// v is the optimiser's vector: z (or θ), σ being profiled out.
	o.profile = true
	p := o.dim() - 1
	toX := func(v, x []float64) {
		th := o.gth
		if th == nil {
			th = make([]float64, p)
		}
		copy(th, v[:p])
		if w != nil {
			w.toTheta(th)
		}
		copy(x[:2+s], th[:2+s])
		copy(x[3+s:], th[2+s:])
	}
	v0 := make([]float64, p)
	copy(v0[:2+s], x0[:2+s])
	copy(v0[2+s:p], x0[3+s:])
	if w != nil {
		w.fromTheta(v0[:p])
	}
	x := make([]float64, o.dim())
	gx := make([]float64, o.dim())
	var lastV, lastG []float64
	var lastF float64
	evalCached := func(v []float64) (float64, []float64) {
		if lastV != nil && equal(lastV, v) {
			return lastF, lastG
		}
		if lastV == nil {
			lastV, lastG = make([]float64, len(v)), make([]float64, len(v))
		}
		copy(lastV, v)
		toX(v, x)
		lastF = o.eval(x, gx)
		copy(lastG[:2+s], gx[:2+s])
		copy(lastG[2+s:p], gx[3+s:])
		if w != nil {
			w.gradToZ(lastG[:p])
		}
		return lastF, lastG
	}
	prob := optimize.Problem{
		Func: func(v []float64) float64 { f, _ := evalCached(v); return f },
		Grad: func(g, v []float64) { _, gg := evalCached(v); copy(g, gg) },
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-6,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-10, Relative: 1e-12, Iterations: 10},
		MajorIterations:   m.opts.MaxIterations,
		Recorder:          ctxRecorder{ctx},
	}
	res, err := optimize.Minimize(prob, v0, settings, &optimize.LBFGS{Store: 10})
	if err != nil {
		if errors.Is(err, errCancelled) || ctx.Err() != nil {
			return Params{}, 0, fmt.Errorf("fit: %w", ctx.Err())
		}
		// A failed line search (rounding at the optimum) still leaves the best
		// point found.
		if res == nil || math.IsNaN(res.F) || math.IsInf(res.F, 0) {
			return Params{}, 0, fmt.Errorf("fit: optimise: %w", err)
		}
	}
	toX(res.X, x)
	o.eval(x, nil) // sets log σ
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Params{}, 0, fmt.Errorf("fit: optimiser diverged (%v)", res.Status)
		}
	}
	pr := Params{K: x[0], M: x[1], Delta: append([]float64(nil), x[2:2+s]...), SigmaObs: math.Exp(x[2+s]), Beta: append([]float64(nil), x[3+s:]...)}
	return pr, res.MajorIterations, nil
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
