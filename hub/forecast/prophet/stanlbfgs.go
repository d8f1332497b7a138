package prophet

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Stan's L-BFGS, as Prophet runs it (rstan::optimizing and CmdStan's
// optimize with their default settings): the same starting step, line
// search, limited-memory update and stopping rules, so the fit stops where
// Stan's does. On Prophet's model that is often short of the optimum along
// the poorly conditioned changepoint directions (the relative-gradient test
// measures the gradient through the L-BFGS metric), and Prophet's forecasts
// are those of that point, not of the exact MAP.

// stanSettings are the optimizer's settings; defaultStanSettings are the
// defaults of rstan::optimizing and CmdStan (tolerances relative to the
// machine epsilon where Stan's are).
type stanSettings struct {
	historySize int     // L-BFGS pairs kept (history_size 5)
	initAlpha   float64 // first line-search step (init_alpha 1e-3)
	tolObj      float64 // |Δf| (tol_obj 1e-12)
	tolRelObj   float64 // |Δf| / max(|f|, 1), in units of ε (tol_rel_obj 1e4)
	tolGrad     float64 // ‖g‖ (tol_grad 1e-8)
	tolRelGrad  float64 // gᵀHg / max(|f|, 1), in units of ε (tol_rel_grad 1e7)
	tolParam    float64 // ‖Δx‖ (tol_param 1e-8)
	maxIter     int     // iterations (Prophet passes iter = 10000)
	c1, c2      float64 // Wolfe conditions (1e-4, 0.9)
	minAlpha    float64 // smallest step (1e-12)
	maxLSIter   int     // line-search expansions (20)
	maxLSRetry  int     // halvings after a failed evaluation (10)
	// trace, when set, sees each iteration as Stan's log prints it: the
	// objective, the gradient norm, the step and the evaluations so far.
	trace func(iter int, f, gradNorm, alpha float64, evals int)
}

// errStanFailed reports that Stan's optimizers could not run to their end
// (the objective not finite where they needed it); where Prophet's fit
// would fail, the exact optimizer takes over.
var errStanFailed = errors.New("stan optimizer failed")

// stanMinRows is the history length from which Prophet fits with L-BFGS;
// below it Prophet uses Stan's Newton optimizer.
const stanMinRows = 100

var defaultStanSettings = stanSettings{
	historySize: 5, initAlpha: 1e-3,
	tolObj: 1e-12, tolRelObj: 1e4, tolGrad: 1e-8, tolRelGrad: 1e7, tolParam: 1e-8,
	maxIter: 10000, c1: 1e-4, c2: 0.9, minAlpha: 1e-12, maxLSIter: 20, maxLSRetry: 10,
}

// stanStop says why the optimizer stopped, with Stan's termination codes.
type stanStop int

// Termination codes (Stan's TerminationCondition values).
const (
	stanRunning  stanStop = 0
	stanAbsX     stanStop = 10
	stanAbsF     stanStop = 20
	stanRelF     stanStop = 21
	stanAbsGrad  stanStop = 30
	stanRelGrad  stanStop = 31
	stanMaxIter  stanStop = 40
	stanLineFail stanStop = -1
)

func (s stanStop) String() string {
	switch s {
	case stanAbsX:
		return "parameter change below tolerance"
	case stanAbsF:
		return "objective change below tolerance"
	case stanRelF:
		return "relative objective change below tolerance"
	case stanAbsGrad:
		return "gradient norm below tolerance"
	case stanRelGrad:
		return "relative gradient below tolerance"
	case stanMaxIter:
		return "iteration limit"
	case stanLineFail:
		return "line search failed"
	}
	return "running"
}

// stanFunc evaluates the objective at x, writes its gradient to g and
// reports false when the value or gradient is not finite.
type stanFunc func(x, g []float64) (float64, bool)

// stanPair is one (s, y) pair of the limited-memory update with 1/sᵀy.
type stanPair struct {
	rho  float64
	s, y []float64
}

// stanLBFGS is the state of one minimisation.
type stanLBFGS struct {
	set  stanSettings
	f    stanFunc
	n    int
	iter int

	xk, gk, pk     []float64 // current point, gradient, direction
	xk1, gk1, pk1  []float64 // previous (after a step: the one before)
	fk, fk1        float64
	alpha, alphak1 float64
	hist           []stanPair
	gamma          float64 // scale of the initial inverse Hessian
	evals          int
	// line-search scratch
	prevG, tmpX []float64
}

// minimizeStan runs Stan's L-BFGS from x0 and returns the final point, its
// objective, the iterations and why it stopped. ctx cancels it between
// iterations.
func minimizeStan(ctx context.Context, f stanFunc, x0 []float64, set stanSettings) ([]float64, float64, int, stanStop, error) {
	n := len(x0)
	o := &stanLBFGS{set: set, f: f, n: n}
	for _, p := range []*[]float64{&o.xk, &o.gk, &o.pk, &o.xk1, &o.gk1, &o.pk1, &o.prevG, &o.tmpX} {
		*p = make([]float64, n)
	}
	copy(o.xk, x0)
	fx, ok := f(o.xk, o.gk)
	o.evals++
	if !ok {
		return nil, 0, 0, stanLineFail, errors.New("objective not finite at the starting point")
	}
	o.fk = fx
	for i, g := range o.gk {
		o.pk[i] = -g
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, o.iter, stanRunning, fmt.Errorf("%w: %w", errCancelled, err)
		}
		st := o.step()
		if set.trace != nil && st != stanLineFail {
			set.trace(o.iter, o.fk, norm(o.gk), o.alpha, o.evals)
		}
		if st != stanRunning {
			return o.xk, o.fk, o.iter, st, nil
		}
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

// step is one iteration: a line search along pk (restarting from the
// steepest descent once if it fails), the limited-memory update, the next
// direction and the convergence tests, in Stan's order.
func (o *stanLBFGS) step() stanStop {
	o.iter++
	reset := 0
	if o.iter == 1 {
		reset = 1
	}
	for {
		if reset != 0 {
			for i, g := range o.gk {
				o.pk[i] = -g
			}
		}
		if o.iter > 1 && reset != 2 {
			// Cubic interpolation of the previous step's objective.
			a := cubicMin(dot(o.gk1, o.pk1), o.alphak1, o.fk-o.fk1, dot(o.gk, o.pk1), o.set.minAlpha, 1)
			o.alpha = math.Min(1, 1.01*a)
		} else {
			o.alpha = o.set.initAlpha
		}
		// On success the new point is in xk1, fk1, gk1.
		if o.wolfe() {
			break
		}
		if reset != 0 {
			return stanLineFail
		}
		reset = 2
	}
	o.fk, o.fk1 = o.fk1, o.fk
	o.xk, o.xk1 = o.xk1, o.xk
	o.gk, o.gk1 = o.gk1, o.gk
	o.pk, o.pk1 = o.pk1, o.pk

	s, y := make([]float64, o.n), make([]float64, o.n)
	for i := range s {
		s[i] = o.xk[i] - o.xk1[i]
		y[i] = o.gk[i] - o.gk1[i]
	}
	gradNorm, stepNorm := norm(o.gk), norm(s)
	sy, yy := dot(s, y), dot(y, y)
	if reset != 0 {
		// After a reset the initial Hessian is rescaled, and the previous
		// direction and step with it (they seed the next step's guess).
		b0 := yy / sy
		o.hist = o.hist[:0]
		for i := range o.pk1 {
			o.pk1[i] /= b0
		}
		o.alphak1 = o.alpha * b0
	} else {
		o.alphak1 = o.alpha
	}
	o.gamma = sy / yy
	if len(o.hist) == o.set.historySize {
		o.hist = append(o.hist[:0], o.hist[1:]...)
	}
	o.hist = append(o.hist, stanPair{rho: 1 / sy, s: s, y: y})
	o.direction()

	relObj := math.Abs(o.fk1-o.fk) / math.Max(math.Abs(o.fk1), math.Max(math.Abs(o.fk), 1))
	relGrad := -dot(o.pk, o.gk) / math.Max(math.Abs(o.fk), 1)
	const eps = 0x1p-52
	switch {
	case math.Abs(o.fk1-o.fk) < o.set.tolObj:
		return stanAbsF
	case gradNorm < o.set.tolGrad:
		return stanAbsGrad
	case stepNorm < o.set.tolParam:
		return stanAbsX
	case o.iter >= o.set.maxIter:
		return stanMaxIter
	case relObj < o.set.tolRelObj*eps:
		return stanRelF
	case relGrad < o.set.tolRelGrad*eps:
		return stanRelGrad
	}
	return stanRunning
}

// direction sets pk to −H·gk by the two-loop recursion over the pairs kept.
func (o *stanLBFGS) direction() {
	p := o.pk
	for i, g := range o.gk {
		p[i] = -g
	}
	alphas := make([]float64, len(o.hist))
	for j := len(o.hist) - 1; j >= 0; j-- {
		h := o.hist[j]
		a := h.rho * dot(h.s, p)
		for i := range p {
			p[i] -= a * h.y[i]
		}
		alphas[j] = a
	}
	for i := range p {
		p[i] *= o.gamma
	}
	for j, h := range o.hist {
		b := h.rho * dot(h.y, p)
		for i := range p {
			p[i] += (alphas[j] - b) * h.s[i]
		}
	}
}

// eval evaluates at x0 + a·p into x, g.
func (o *stanLBFGS) evalAt(a float64, x, g []float64) (float64, bool) {
	for i := range x {
		x[i] = o.xk[i] + a*o.pk[i]
	}
	o.evals++
	return o.f(x, g)
}

// wolfe is Stan's line search for the Wolfe conditions from o.alpha:
// expand the step tenfold until the minimum is bracketed, then zoom. The
// sufficient-decrease test uses the initial step (as Stan's does). The
// point found is left in xk1, fk1, gk1 and the step in o.alpha.
func (o *stanLBFGS) wolfe() bool {
	dfp := dot(o.gk, o.pk)
	c1dfp, c2dfp := o.set.c1*dfp, o.set.c2*dfp
	a0, a1 := o.set.minAlpha, o.alpha
	prevF, prevDFp := o.fk, dfp
	nits, retries := 0, 0
	for {
		if nits >= o.set.maxLSIter {
			return false
		}
		f1, ok := o.evalAt(a1, o.xk1, o.gk1)
		if !ok {
			if retries >= o.set.maxLSRetry {
				return false
			}
			a1 = 0.5 * (a0 + a1)
			retries++
			continue
		}
		retries = 0
		o.fk1 = f1
		dfp1 := dot(o.gk1, o.pk)
		if f1 > o.fk+o.alpha*c1dfp || (f1 >= prevF && nits > 0) {
			return o.zoom(dfp, c1dfp, c2dfp, a0, prevF, prevDFp, a1, f1, dfp1)
		}
		if math.Abs(dfp1) <= -c2dfp {
			o.alpha = a1
			return true
		}
		if dfp1 >= 0 {
			return o.zoom(dfp, c1dfp, c2dfp, a1, f1, dfp1, a0, prevF, prevDFp)
		}
		a0, prevF, prevDFp = a1, f1, dfp1
		a1 *= 10
		nits++
	}
}

// zoom narrows [lo, hi] (by cubic interpolation, bisecting every fifth
// try or when the cubic step falls near an end) until a step meets the
// Wolfe conditions.
func (o *stanLBFGS) zoom(dfp, c1dfp, c2dfp, lo, loF, loDFp, hi, hiF, hiDFp float64) bool {
	const minRange = 1e-16
	for it := 1; ; it++ {
		if math.Abs(lo-hi) < minRange {
			return false
		}
		var a float64
		if it%5 == 0 {
			a = 0.5 * (lo + hi)
		} else {
			d1 := loDFp + hiDFp - 3*(loF-hiF)/(lo-hi)
			d2 := math.Sqrt(d1*d1 - loDFp*hiDFp)
			if hi < lo {
				d2 = -d2
			}
			a = hi - (hi-lo)*(hiDFp+d2-d1)/(hiDFp-loDFp+2*d2)
			w := math.Abs(lo - hi)
			if math.IsNaN(a) || math.IsInf(a, 0) || a < math.Min(lo, hi)+0.01*w || a > math.Max(lo, hi)-0.01*w {
				a = 0.5 * (lo + hi)
			}
		}
		o.alpha = a
		f, ok := o.evalAt(a, o.xk1, o.gk1)
		for !ok {
			a = 0.5 * (a + math.Min(lo, hi))
			o.alpha = a
			if math.Abs(math.Min(lo, hi)-a) < minRange {
				return false
			}
			f, ok = o.evalAt(a, o.xk1, o.gk1)
		}
		o.fk1 = f
		dfpA := dot(o.gk1, o.pk)
		if f > o.fk+a*c1dfp || f >= loF {
			hi, hiF, hiDFp = a, f, dfpA
			continue
		}
		if math.Abs(dfpA) <= -c2dfp {
			return true
		}
		if dfpA*(hi-lo) >= 0 {
			hi, hiF, hiDFp = lo, loF, loDFp
		}
		lo, loF, loDFp = a, f, dfpA
	}
}

// cubicMin is the minimiser on [lo, hi] of the cubic through (0, 0) with
// slope df0 and (x1, f1) with slope df1, ends included.
func cubicMin(df0, x1, f1, df1, lo, hi float64) float64 {
	c3 := (-12*f1 + 6*x1*(df0+df1)) / (x1 * x1 * x1)
	c2 := -(4*df0+2*df1)/x1 + 6*f1/(x1*x1)
	c1 := df0
	cubic := func(x float64) float64 { return x * (x*(x*c3/3+c2)/2 + c1) }
	ts := math.Sqrt(c2*c2 - 2*c1*c3)
	bestX, bestF := lo, cubic(lo)
	if v := cubic(hi); v < bestF {
		bestX, bestF = hi, v
	}
	for _, r := range []float64{-(c2 + ts) / c3, -(c2 - ts) / c3} {
		if lo < r && r < hi {
			if v := cubic(r); v < bestF {
				bestX, bestF = r, v
			}
		}
	}
	return bestX
}

// optimizeStan fits as Prophet does: Stan's L-BFGS from Prophet's starting
// point x0 (k, m through the first and last rows, δ = 0, σ = 1, β = 0) on
// Stan's unconstrained parameters (log σ, no Jacobian term) with the exact
// |δ| of the Laplace prior; Stan's Newton optimizer instead on short
// histories (newton), and from x0 again when L-BFGS's line search fails,
// as Prophet does.
func (m *Model) optimizeStan(ctx context.Context, o *objective, x0 []float64, newton bool) (Params, int, error) {
	f := o.stanFunc()
	var x []float64
	var iters int
	var err error
	if !newton {
		set := defaultStanSettings
		set.maxIter = m.opts.MaxIterations
		var stop stanStop
		x, _, iters, stop, err = minimizeStan(ctx, f, x0, set)
		newton = err == nil && stop == stanLineFail
	}
	if newton {
		x, _, iters, err = minimizeStanNewton(ctx, f, o.shiftedGrads(), x0, m.opts.MaxIterations, nil)
	}
	if err != nil {
		if errors.Is(err, errCancelled) {
			return Params{}, 0, fmt.Errorf("fit: %w", ctx.Err())
		}
		return Params{}, 0, fmt.Errorf("%w: %w", errStanFailed, err)
	}
	s := len(o.cps)
	pr := Params{K: x[0], M: x[1], Delta: append([]float64(nil), x[2:2+s]...), SigmaObs: math.Exp(x[2+s]), Beta: append([]float64(nil), x[3+s:]...)}
	return pr, iters, nil
}

// stanFunc is the objective as Stan's optimizer sees it: unconstrained
// parameters, exact |δ|, not finite values refused.
func (o *objective) stanFunc() stanFunc {
	o.profile, o.l1 = false, 0
	return func(x, g []float64) (float64, bool) {
		v := o.eval(x, g)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return v, false
		}
		for _, gi := range g {
			if math.IsNaN(gi) || math.IsInf(gi, 0) {
				return v, false
			}
		}
		return v, true
	}
}

// shiftedGrads gives the Newton Hessian's gradients of a Gram-matrix
// objective in O(P) each (nil for the others: full evaluations).
func (o *objective) shiftedGrads() shiftedGrads {
	if o.gram == nil {
		return nil
	}
	s := len(o.cps)
	return func(x []float64) func(d int, h float64, g []float64) bool {
		th := make([]float64, o.gram.p)
		copy(th, x[:2+s])
		copy(th[2+s:], x[3+s:])
		at := o.gram.shifts(th)
		xp := append([]float64(nil), x...)
		gth := make([]float64, o.gram.p)
		return func(d int, h float64, g []float64) bool {
			j := d // index in θ = (k, m, δ, β); −1 for log σ
			switch {
			case d == 2+s:
				j = -1
			case d > 2+s:
				j = d - 1
			}
			ss := at(j, h, gth)
			xp[d] = x[d] + h
			v := o.gramGrad(xp, ss, gth, g)
			xp[d] = x[d]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
			for _, gi := range g {
				if math.IsNaN(gi) || math.IsInf(gi, 0) {
					return false
				}
			}
			return true
		}
	}
}
