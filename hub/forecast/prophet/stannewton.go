package prophet

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Stan's Newton optimizer, which Prophet runs instead of L-BFGS on
// histories under 100 rows and after a failed L-BFGS line search. Each
// iteration takes the Hessian by Stan's finite differences of the gradient,
// flips its eigenvalues to make it definite, and halves the step (from 1)
// until the log density does not decrease; it stops when an iteration
// changes the log density by at most 1e-8.
//
// Stan's finite-difference Hessian (grad_hess_log_prob: a four-point
// stencil of step 1e-3) is scaled by ε² = 1e-6 instead of divided by ε; as
// the scale is the same in every direction it only makes the first trial
// step a million Newton steps, and the halving keeps the first of
// 1e6·2⁻ᵏ Newton steps that does not lose: 1.907 on a quadratic, an
// overshoot that shrinks the error by 0.907 per iteration (R Prophet's
// Newton fits take 100-odd iterations). It is reproduced here, as it
// decides where Prophet's fit stops.

// newtonFDStep is Stan's finite-difference step for the Hessian.
const newtonFDStep = 1e-3

// shiftedGrads returns, for a point x, a function writing to g the
// gradient at x + h·e_d and reporting whether it is finite: the gradients of
// the finite-difference Hessian (cheaper than full evaluations for some
// objectives).
type shiftedGrads func(x []float64) func(d int, h float64, g []float64) bool

// minimizeStanNewton runs Stan's Newton iterations on f from x0 (at most
// maxIter) and returns the final point, its objective and the iterations.
// shifted, when not nil, computes the Hessian's gradients; trace, when not
// nil, sees each iteration's objective.
func minimizeStanNewton(ctx context.Context, f stanFunc, shifted shiftedGrads, x0 []float64, maxIter int, trace func(iter int, f float64)) ([]float64, float64, int, error) {
	if shifted == nil {
		shifted = perturbed(f)
	}
	n := len(x0)
	x := append([]float64(nil), x0...)
	g := make([]float64, n)
	fx, ok := f(x, g)
	if !ok {
		return nil, 0, 0, errors.New("objective not finite at the starting point")
	}
	hess := mat.NewSymDense(n, nil)
	gp := make([]float64, n)
	row := make([]float64, n)
	h := make([]float64, n*n)
	dir := make([]float64, n)
	trial := make([]float64, n)
	var eig mat.EigenSym
	var vecs mat.Dense
	stencil := [4]float64{-2, -1, 1, 2}
	coef := [4]float64{1.0 / 12, -2.0 / 3, 2.0 / 3, -1.0 / 12}
	iters := 0
	for iters < maxIter {
		if err := ctx.Err(); err != nil {
			return nil, 0, iters, fmt.Errorf("%w: %w", errCancelled, err)
		}
		iters++
		// Hessian of the log density (−f), Stan's way.
		if _, ok := f(x, g); !ok {
			return nil, 0, iters, errors.New("objective not finite during Newton iterations")
		}
		// Row d of the stencil's sum goes to row and column d (Stan adds
		// each term to both), so H is symmetric.
		clear(h)
		gradAt := shifted(x)
		for d := range n {
			clear(row)
			for i, s := range stencil {
				if !gradAt(d, s*newtonFDStep, gp) {
					return nil, 0, iters, fmt.Errorf("objective not finite %g away from the Newton iterate", s*newtonFDStep)
				}
				c := 0.5 * newtonFDStep * coef[i]
				for dd, v := range gp {
					row[dd] -= c * v
				}
			}
			for dd, v := range row {
				h[d*n+dd] += v
				h[dd*n+d] += v
			}
		}
		for i := range n {
			for j := i; j < n; j++ {
				hess.SetSym(i, j, h[i*n+j])
			}
		}
		if !eig.Factorize(hess, true) {
			return nil, 0, iters, errors.New("eigen-decompose the Newton Hessian: no convergence")
		}
		vals := eig.Values(nil)
		eig.VectorsTo(&vecs)
		// dir = V |Λ|⁻¹ Vᵀ ∇log p, the ascent step of the log density.
		proj := make([]float64, n)
		for k := range n {
			var s float64
			for i := range n {
				s += vecs.At(i, k) * -g[i]
			}
			proj[k] = s / math.Abs(vals[k])
		}
		for i := range n {
			var s float64
			for k := range n {
				s += vecs.At(i, k) * proj[k]
			}
			dir[i] = s
		}
		// Halve the step from 1 until the log density does not decrease.
		f0, f1 := fx, math.Inf(1)
		step := 2.0
		moved := true
		for f1 > f0 {
			step *= 0.5
			if step < 1e-50 {
				moved = false
				break
			}
			for i := range n {
				trial[i] = x[i] + step*dir[i]
			}
			v, ok := f(trial, gp)
			if !ok {
				v = math.Inf(1)
			}
			f1 = v
		}
		if !moved {
			// Stan keeps the point and reports no change: converged.
			return x, fx, iters, nil
		}
		copy(x, trial)
		fx = f1
		if trace != nil {
			trace(iters, fx)
		}
		// Stan compares the first iteration with the log density including
		// its constants, so the first never stops the iterations.
		if iters > 1 && math.Abs(f1-f0) <= 1e-8 {
			break
		}
	}
	return x, fx, iters, nil
}

// perturbed is shiftedGrads by full evaluations of f.
func perturbed(f stanFunc) shiftedGrads {
	return func(x []float64) func(d int, h float64, g []float64) bool {
		xp := append([]float64(nil), x...)
		return func(d int, h float64, g []float64) bool {
			xp[d] = x[d] + h
			_, ok := f(xp, g)
			xp[d] = x[d]
			return ok
		}
	}
}
