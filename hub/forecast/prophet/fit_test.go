package prophet

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// synthetic makes n rows every step from start: trend + weekly wave
// (additive or multiplicative) + Normal noise, seeded.
func synthetic(n int, step time.Duration, mult bool, noise float64, seed uint64) *Frame {
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &Frame{DS: make([]time.Time, n), Y: make([]float64, n)}
	for i := range n {
		ds := start.Add(time.Duration(i) * step)
		days := ds.Sub(start).Hours() / 24
		trend := 100 + 0.5*days
		if days > float64(n)*step.Hours()/24/2 {
			trend += 0.8 * (days - float64(n)*step.Hours()/24/2) // a change of slope half way
		}
		wave := math.Sin(2*math.Pi*days/7) + 0.5*math.Cos(4*math.Pi*days/7)
		y := trend + 10*wave
		if mult {
			y = trend * (1 + 0.1*wave)
		}
		f.DS[i], f.Y[i] = ds, y+noise*rng.NormFloat64()
	}
	return f
}

// TestGradientMatchesFiniteDifferences checks the analytic gradient of the
// negative log posterior against central differences, for every trend and
// both modes, at random points.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	tests := []struct {
		name   string
		growth string
		mode   string
	}{
		{"linear additive", GrowthLinear, ModeAdditive},
		{"linear multiplicative", GrowthLinear, ModeMultiplicative},
		{"logistic additive", GrowthLogistic, ModeAdditive},
		{"logistic multiplicative", GrowthLogistic, ModeMultiplicative},
		{"flat additive", GrowthFlat, ModeAdditive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := synthetic(120, 24*time.Hour, tc.mode == ModeMultiplicative, 1, 7)
			f.Cap = make([]float64, f.Len())
			f.Regressors = map[string][]float64{"temp": make([]float64, f.Len())}
			for i := range f.Cap {
				f.Cap[i] = 400
				f.Regressors["temp"][i] = math.Sin(float64(i) / 5)
			}
			nc := 10
			m, err := New(Options{
				Growth: tc.growth, SeasonalityMode: tc.mode, NChangepoints: &nc,
				Holidays:   []Holiday{{Name: "h", Dates: []string{"2020-02-01", "2020-03-01"}, LowerWindow: -1, UpperWindow: 1}},
				Regressors: []Regressor{{Name: "temp", Mode: ModeAdditive}},
			})
			if err != nil {
				t.Fatal(err)
			}
			h, err := m.prepare(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := m.makeDesign(h.f)
			if err != nil {
				t.Fatal(err)
			}
			o := newObjective(tc.growth, h, m.st.ChangepointsT, d, 0.05)
			rng := rand.New(rand.NewPCG(3, 4))
			for trial := range 4 {
				// Odd trials: Stan's exact |δ| (the random δ are away from its kink).
				o.l1 = l1Smooth
				if trial%2 == 1 {
					o.l1 = 0
				}
				x := make([]float64, o.dim())
				for i := range x {
					x[i] = 0.3 * rng.NormFloat64()
				}
				x[0] = 0.5 + 0.1*float64(trial) // a positive rate keeps the logistic segments apart
				grad := make([]float64, len(x))
				o.eval(x, grad)
				for i := range x {
					const h = 1e-6
					xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
					xp[i] += h
					xm[i] -= h
					want := (o.eval(xp, nil) - o.eval(xm, nil)) / (2 * h)
					if got := grad[i]; math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
						t.Errorf("trial %d: d/dx[%d]: got %.8g, want %.8g", trial, i, got, want)
					}
				}
			}
		})
	}
}

// TestFitRecoversSyntheticSeries fits series with a known shape and checks
// the out-of-sample error and the interval coverage.
func TestFitRecoversSyntheticSeries(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		optimizer string
		maxMAPE   float64
		coverage  [2]float64
	}{
		{"additive weekly, stan", ModeAdditive, OptimizerStan, 0.02, [2]float64{0.6, 0.97}},
		{"multiplicative weekly, stan", ModeMultiplicative, OptimizerStan, 0.02, [2]float64{0.6, 0.97}},
		{"additive weekly, exact", ModeAdditive, OptimizerExact, 0.02, [2]float64{0.6, 0.97}},
		{"multiplicative weekly, exact", ModeMultiplicative, OptimizerExact, 0.02, [2]float64{0.6, 0.97}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := synthetic(400, 24*time.Hour, tc.mode == ModeMultiplicative, 2, 11)
			idx := func(a, b int) []int {
				var out []int
				for i := a; i < b; i++ {
					out = append(out, i)
				}
				return out
			}
			train, test := all.subset(idx(0, 370)), all.subset(idx(370, 400))
			m, err := New(Options{SeasonalityMode: tc.mode, Seed: 1, Optimizer: tc.optimizer})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Fit(context.Background(), train); err != nil {
				t.Fatalf("Fit: %v", err)
			}
			fc, err := m.Predict(&Frame{DS: test.DS})
			if err != nil {
				t.Fatalf("Predict: %v", err)
			}
			var ape float64
			in := 0
			for i, y := range test.Y {
				ape += math.Abs(y-fc.Yhat[i]) / math.Abs(y)
				if y >= fc.YhatLower[i] && y <= fc.YhatUpper[i] {
					in++
				}
			}
			if got := ape / float64(len(test.Y)); got > tc.maxMAPE {
				t.Errorf("MAPE: got %.4f, want ≤ %.4f", got, tc.maxMAPE)
			}
			if got := float64(in) / float64(len(test.Y)); got < tc.coverage[0] || got > tc.coverage[1] {
				t.Errorf("80%% coverage: got %.2f, want in %v", got, tc.coverage)
			}
			if got := m.Seasonalities(); len(got) != 1 || got[0].Name != "weekly" {
				t.Errorf("seasonalities: got %+v, want weekly only (400 days, daily rows)", got)
			}
		})
	}
}

// TestGramPathMatchesRowPath checks that the Gram-matrix evaluation of a
// linear additive model gives the same objective and gradient as the
// row-by-row one.
func TestGramPathMatchesRowPath(t *testing.T) {
	f := synthetic(300, 6*time.Hour, false, 1, 3)
	m, err := New(Options{Holidays: []Holiday{{Name: "h", Dates: []string{"2020-01-20"}, UpperWindow: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.prepare(f)
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.makeDesign(h.f)
	if err != nil {
		t.Fatal(err)
	}
	fast := newObjective(GrowthLinear, h, m.st.ChangepointsT, d, 0.05)
	slow := newObjective(GrowthLinear, h, m.st.ChangepointsT, d, 0.05)
	if fast.gram == nil {
		t.Fatal("linear additive model: no Gram matrix")
	}
	slow.gram = nil
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 5 {
		x := make([]float64, fast.dim())
		for i := range x {
			x[i] = 0.2 * rng.NormFloat64()
		}
		gf, gs := make([]float64, len(x)), make([]float64, len(x))
		ff, fs := fast.eval(x, gf), slow.eval(x, gs)
		if math.Abs(ff-fs) > 1e-8*math.Max(1, math.Abs(fs)) {
			t.Errorf("trial %d: objective: got %.12g (Gram), want %.12g (rows)", trial, ff, fs)
		}
		for i := range gf {
			if math.Abs(gf[i]-gs[i]) > 1e-7*math.Max(1, math.Abs(gs[i])) {
				t.Errorf("trial %d: gradient[%d]: got %.12g (Gram), want %.12g (rows)", trial, i, gf[i], gs[i])
			}
		}
	}
}
