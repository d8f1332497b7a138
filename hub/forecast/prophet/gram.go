package prophet

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// gram is the sufficient statistics of a linear, purely additive model.
// There the mean is Zθ with θ = (k, m, δ, β) and
//
//	Z = [t, 1, (t − s_1)₊ … (t − s_S)₊, X]
//
// so Σr² = yᵀy − 2θᵀZᵀy + θᵀZᵀZθ: precomputing ZᵀZ and Zᵀy once makes each
// evaluation of the objective O(P²) instead of O(N·P), whatever the length
// of the history.
type gram struct {
	p   int
	zz  []float64 // P×P, upper triangle filled (row-major)
	zy  []float64
	yy  float64
	buf []float64 // Aθ scratch
	th  []float64 // θ scratch
}

// newGram accumulates ZᵀZ and Zᵀy in blocks of rows (bounded memory).
func newGram(t, y, cps []float64, d *design) *gram {
	s, k := len(cps), len(d.cols)
	p := 2 + s + k
	g := &gram{p: p, zz: make([]float64, p*p), zy: make([]float64, p), buf: make([]float64, p), th: make([]float64, p)}
	const block = 512
	z := make([]float64, block*p)
	c := blas64.Symmetric{Uplo: blas.Upper, N: p, Data: g.zz, Stride: p}
	for start := 0; start < len(t); start += block {
		rows := min(block, len(t)-start)
		for r := range rows {
			i := start + r
			row := z[r*p : (r+1)*p]
			row[0], row[1] = t[i], 1
			for j, cp := range cps {
				row[2+j] = max(0, t[i]-cp)
			}
			copy(row[2+s:], d.x[i*k:(i+1)*k])
			for j, v := range row {
				g.zy[j] += v * y[i]
			}
			g.yy += y[i] * y[i]
		}
		a := blas64.General{Rows: rows, Cols: p, Data: z[:rows*p], Stride: p}
		blas64.Syrk(blas.Trans, 1, a, 1, c)
	}
	return g
}

// residual returns Σr² at θ and writes ∂(½Σr²)/∂θ = ZᵀZθ − Zᵀy to grad
// (when not nil).
func (g *gram) residual(theta, grad []float64) float64 {
	blas64.Symv(1, blas64.Symmetric{Uplo: blas.Upper, N: g.p, Data: g.zz, Stride: g.p},
		blas64.Vector{N: g.p, Data: theta, Inc: 1}, 0, blas64.Vector{N: g.p, Data: g.buf, Inc: 1})
	var tAt, tb float64
	for j, v := range theta {
		tAt += v * g.buf[j]
		tb += v * g.zy[j]
	}
	for j := range grad {
		grad[j] = g.buf[j] - g.zy[j]
	}
	return max(0, g.yy-2*tb+tAt)
}

// zzAt is (ZᵀZ)ᵢⱼ from the upper triangle.
func (g *gram) zzAt(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return g.zz[i*g.p+j]
}

// shifts returns a function giving Σr² and ∂(½Σr²)/∂θ at θ + h·e_j in O(P)
// from their parts at θ (ZᵀZθ, θᵀZᵀZθ, θᵀZᵀy, computed once): the
// gradients of a finite-difference Hessian.
func (g *gram) shifts(theta []float64) func(j int, h float64, grad []float64) float64 {
	az := make([]float64, g.p)
	blas64.Symv(1, blas64.Symmetric{Uplo: blas.Upper, N: g.p, Data: g.zz, Stride: g.p},
		blas64.Vector{N: g.p, Data: theta, Inc: 1}, 0, blas64.Vector{N: g.p, Data: az, Inc: 1})
	var tAt, tb float64
	for j, v := range theta {
		tAt += v * az[j]
		tb += v * g.zy[j]
	}
	return func(j int, h float64, grad []float64) float64 {
		for i := range grad {
			grad[i] = az[i] - g.zy[i]
			if j >= 0 {
				grad[i] += h * g.zzAt(i, j)
			}
		}
		if j < 0 {
			return max(0, g.yy-2*tb+tAt)
		}
		return max(0, g.yy-2*(tb+h*g.zy[j])+tAt+2*h*az[j]+h*h*g.zzAt(j, j))
	}
}

// whitening is a change of variables θ = L⁻ᵀz, with LLᵀ = ZᵀZ + Λ (Λ the
// Gaussian prior precisions), under which the quadratic part of the
// objective is nearly isotropic: L-BFGS then needs tens of iterations
// instead of thousands on the strongly correlated changepoint columns.
type whitening struct {
	l blas64.Triangular
}

// newWhitening factorises ZᵀZ + Λ; prec holds Λ's diagonal.
func newWhitening(g *gram, prec []float64) (*whitening, error) {
	p := g.p
	sym := mat.NewSymDense(p, nil)
	for i := range p {
		for j := i; j < p; j++ {
			sym.SetSym(i, j, g.zz[i*p+j])
		}
		sym.SetSym(i, i, g.zz[i*p+i]+prec[i])
	}
	var ch mat.Cholesky
	if !ch.Factorize(sym) {
		return nil, fmt.Errorf("factorise the Gram matrix: not positive definite")
	}
	var l mat.TriDense
	ch.LTo(&l)
	return &whitening{l: l.RawTriangular()}, nil
}

// toTheta overwrites z with θ = L⁻ᵀz.
func (w *whitening) toTheta(z []float64) {
	blas64.Trsv(blas.Trans, w.l, blas64.Vector{N: len(z), Data: z, Inc: 1})
}

// fromTheta overwrites θ with z = Lᵀθ.
func (w *whitening) fromTheta(theta []float64) {
	blas64.Trmv(blas.Trans, w.l, blas64.Vector{N: len(theta), Data: theta, Inc: 1})
}

// gradToZ overwrites a gradient in θ with the gradient in z: L⁻¹g.
func (w *whitening) gradToZ(g []float64) {
	blas64.Trsv(blas.NoTrans, w.l, blas64.Vector{N: len(g), Data: g, Inc: 1})
}
