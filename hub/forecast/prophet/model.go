package prophet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Model is a Prophet model: configured by [Options], fitted once by
// [Model.Fit], then used by [Model.Predict]. A fitted model is safe for
// concurrent Predict calls.
type Model struct {
	opts Options
	st   *state // nil until fitted
}

// fittedRegressor is a regressor with the history's standardisation.
type fittedRegressor struct {
	Regressor
	Mu  float64 `json:"mu"`
	Std float64 `json:"std"`
}

// state is everything Fit learns; it is what a serialised model holds.
type state struct {
	Start         time.Time         `json:"start"`
	TScale        float64           `json:"tScale"` // seconds from first to last history row
	YScale        float64           `json:"yScale"`
	LogisticFloor bool              `json:"logisticFloor"`
	ChangepointsT []float64         `json:"changepointsT"`
	Seasonalities []Seasonality     `json:"seasonalities"`
	Regressors    []fittedRegressor `json:"regressors"`
	HolidayNames  []string          `json:"holidayNames"`
	Params        Params            `json:"params"`
	LastDS        time.Time         `json:"lastDs"`
	NHistory      int               `json:"nHistory"`
	Iterations    int               `json:"iterations"`
}

// Params are the fitted (MAP) parameters of Prophet's Stan model, on the
// scaled data: base rate K, offset M, rate changes Delta at the
// changepoints, noise SigmaObs and the feature coefficients Beta.
type Params struct {
	K        float64   `json:"k"`
	M        float64   `json:"m"`
	Delta    []float64 `json:"delta"`
	SigmaObs float64   `json:"sigmaObs"`
	Beta     []float64 `json:"beta"`
}

// New returns an unfitted model with the options o (Prophet's defaults for
// unset fields) or the errors of o.Validate.
func New(o Options) (*Model, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Model{opts: o.withDefaults()}, nil
}

// Options returns the model's options with defaults applied.
func (m *Model) Options() Options { return m.opts }

// Fitted reports whether the model has been fitted or loaded.
func (m *Model) Fitted() bool { return m.st != nil }

// Params returns the fitted parameters (zero before Fit).
func (m *Model) Params() Params {
	if m.st == nil {
		return Params{}
	}
	return m.st.Params
}

// LastTimestamp is the last ds of the history the model was fitted on.
func (m *Model) LastTimestamp() time.Time {
	if m.st == nil {
		return time.Time{}
	}
	return m.st.LastDS
}

// Seasonalities are the seasonalities in use: after Fit, including the
// built-in ones the history switched on.
func (m *Model) Seasonalities() []Seasonality { return slices.Clone(m.seasonalities()) }

func (m *Model) seasonalities() []Seasonality {
	if m.st != nil {
		return m.st.Seasonalities
	}
	return m.opts.Seasonalities
}

// Iterations is the number of L-BFGS iterations the fit took.
func (m *Model) Iterations() int {
	if m.st == nil {
		return 0
	}
	return m.st.Iterations
}

// Reseeded returns the model (fitted or not) with another seed for the
// interval simulation; both share the fitted parameters, which neither
// changes.
func (m *Model) Reseeded(seed uint64) *Model {
	o := m.opts
	o.Seed = seed
	return &Model{opts: o, st: m.st}
}

// history is the cleaned, sorted history of a fit.
type history struct {
	f       *Frame
	t       []float64
	y       []float64 // scaled
	capS    []float64 // scaled cap (logistic)
	floor   []float64
	minStep time.Duration
}

// prepare drops rows without y, sorts by ds and computes Prophet's scaling.
func (m *Model) prepare(f *Frame) (*history, error) {
	if err := f.check(m, true); err != nil {
		return nil, fmt.Errorf("check history: %w", err)
	}
	idx := make([]int, 0, f.Len())
	for i, y := range f.Y {
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return f.DS[a].Compare(f.DS[b]) })
	if len(idx) < 2 {
		return nil, ErrTooFewRows
	}
	g := f.subset(idx)
	n := g.Len()
	st := &state{Start: g.DS[0], LastDS: g.DS[n-1], NHistory: n}
	st.TScale = g.DS[n-1].Sub(g.DS[0]).Seconds()
	if st.TScale <= 0 {
		return nil, fmt.Errorf("%w: every row has the same ds %s", ErrTooFewRows, g.DS[0].Format(time.RFC3339))
	}
	h := &history{f: g, t: make([]float64, n), y: make([]float64, n), floor: make([]float64, n)}
	if m.opts.Growth == GrowthLogistic && g.Floor != nil {
		st.LogisticFloor = true
		copy(h.floor, g.Floor)
	}
	for i := range n {
		st.YScale = max(st.YScale, math.Abs(g.Y[i]-h.floor[i]))
	}
	if st.YScale == 0 {
		st.YScale = 1
	}
	for i := range n {
		h.t[i] = g.DS[i].Sub(st.Start).Seconds() / st.TScale
		h.y[i] = (g.Y[i] - h.floor[i]) / st.YScale
	}
	if m.opts.Growth == GrowthLogistic {
		h.capS = make([]float64, n)
		for i := range n {
			h.capS[i] = (g.Cap[i] - h.floor[i]) / st.YScale
			if h.capS[i] <= 0 {
				return nil, fmt.Errorf("check history: row %d (%s): cap %v is not above floor %v", i, g.DS[i].Format(time.RFC3339), g.Cap[i], h.floor[i])
			}
		}
	}
	for i := 1; i < n; i++ {
		if d := g.DS[i].Sub(g.DS[i-1]); d > 0 && (h.minStep == 0 || d < h.minStep) {
			h.minStep = d
		}
	}
	st.ChangepointsT = m.changepoints(h, st)
	st.Seasonalities = m.resolveSeasonalities(g.DS[0], g.DS[n-1], h.minStep)
	for _, r := range m.opts.Regressors {
		fr, err := standardise(r, g.Regressors[r.Name])
		if err != nil {
			return nil, err
		}
		st.Regressors = append(st.Regressors, fr)
	}
	for _, hd := range m.opts.Holidays {
		if !slices.Contains(st.HolidayNames, hd.Name) {
			st.HolidayNames = append(st.HolidayNames, hd.Name)
		}
	}
	m.st = st
	return h, nil
}

// changepoints places Prophet's automatic changepoints: NChangepoints
// evenly spaced rows of the first ChangepointRange of the history (or the
// explicit ones), on the scaled time axis.
func (m *Model) changepoints(h *history, st *state) []float64 {
	var cps []float64
	if len(m.opts.Changepoints) > 0 {
		for _, c := range m.opts.Changepoints {
			cps = append(cps, c.Sub(st.Start).Seconds()/st.TScale)
		}
		slices.Sort(cps)
	} else {
		n := len(h.t)
		histSize := int(math.Floor(float64(n) * m.opts.ChangepointRange))
		k := *m.opts.NChangepoints
		if k+1 > histSize {
			k = histSize - 1
		}
		if k > 0 {
			step := float64(histSize-1) / float64(k)
			for i := 1; i <= k; i++ {
				cps = append(cps, h.t[int(math.RoundToEven(float64(i)*step))])
			}
		}
	}
	if len(cps) == 0 {
		cps = []float64{0} // Prophet's dummy changepoint
	}
	return cps
}

// resolveSeasonalities adds the built-in seasonalities the history switches
// on (yearly with two years of history; weekly with two weeks at a spacing
// under a week; daily with two days at a spacing under a day) after the
// custom ones.
func (m *Model) resolveSeasonalities(first, last time.Time, minStep time.Duration) []Seasonality {
	out := slices.Clone(m.opts.Seasonalities)
	span := last.Sub(first)
	day := 24 * time.Hour
	builtin := []struct {
		name    string
		sw      Switch
		period  float64
		order   int
		disable bool
	}{
		{"yearly", m.opts.YearlySeasonality, 365.25, 10, span < 730*day},
		{"weekly", m.opts.WeeklySeasonality, 7, 3, span < 14*day || minStep >= 7*day},
		{"daily", m.opts.DailySeasonality, 1, 4, span < 2*day || minStep >= day},
	}
	for _, b := range builtin {
		order := 0
		switch {
		case b.sw == Auto:
			if !slices.ContainsFunc(out, func(s Seasonality) bool { return s.Name == b.name }) && !b.disable {
				order = b.order
			}
		case b.sw == On:
			order = b.order
		case b.sw > 0:
			order = int(b.sw)
		}
		if order == 0 {
			continue
		}
		s := Seasonality{Name: b.name, Period: b.period, FourierOrder: order, PriorScale: m.opts.SeasonalityPriorScale, Mode: m.opts.SeasonalityMode}
		if i := slices.IndexFunc(out, func(s Seasonality) bool { return s.Name == b.name }); i >= 0 {
			out[i] = s
		} else {
			out = append(out, s)
		}
	}
	return out
}

// standardise computes a regressor's mean and standard deviation (sample,
// as pandas), leaving binary 0/1 columns alone unless asked.
func standardise(r Regressor, c []float64) (fittedRegressor, error) {
	fr := fittedRegressor{Regressor: r, Mu: 0, Std: 1}
	binary := !slices.ContainsFunc(c, func(v float64) bool { return v != 0 && v != 1 }) &&
		slices.Contains(c, 0) && slices.Contains(c, 1)
	do := !binary
	if r.Standardize != nil {
		do = *r.Standardize
	}
	if !do {
		return fr, nil
	}
	var sum float64
	for _, v := range c {
		sum += v
	}
	mu := sum / float64(len(c))
	var ss float64
	for _, v := range c {
		ss += (v - mu) * (v - mu)
	}
	std := math.Sqrt(ss / float64(len(c)-1))
	if std == 0 || math.IsNaN(std) {
		return fr, fmt.Errorf("standardise regressor %q: %w: it is constant", r.Name, ErrInvalidOptions)
	}
	fr.Mu, fr.Std = mu, std
	return fr, nil
}

// Fit estimates the model's parameters (MAP) from the history f. Rows
// without y (NaN) are gaps and are skipped; rows need not be sorted. The
// context cancels a long fit.
func (m *Model) Fit(ctx context.Context, f *Frame) error {
	if m.st != nil {
		return ErrAlreadyFitted
	}
	h, err := m.prepare(f)
	if err != nil {
		return err
	}
	d, err := m.makeDesign(h.f)
	if err != nil {
		m.st = nil
		return fmt.Errorf("build features: %w", err)
	}
	p, iters, err := m.optimize(ctx, h, d)
	if err != nil {
		m.st = nil
		return err
	}
	m.st.Params, m.st.Iterations = p, iters
	return nil
}

// initParams is Prophet's starting point: the trend through the first and
// last rows (linear), its logistic equivalent, or the mean (flat).
func (m *Model) initParams(h *history) (k, mm float64) {
	n := len(h.t)
	i0, i1 := 0, n-1
	T := h.t[i1] - h.t[i0]
	switch m.opts.Growth {
	case GrowthFlat:
		var s float64
		for _, y := range h.y {
			s += y
		}
		return 0, s / float64(n)
	case GrowthLogistic:
		c0, c1 := h.capS[i0], h.capS[i1]
		y0 := math.Max(0.01*c0, math.Min(0.99*c0, h.y[i0]))
		y1 := math.Max(0.01*c1, math.Min(0.99*c1, h.y[i1]))
		r0, r1 := c0/y0, c1/y1
		if math.Abs(r0-r1) <= 0.01 {
			r0 *= 1.05
		}
		l0, l1 := math.Log(r0-1), math.Log(r1-1)
		mm = l0 * T / (l0 - l1)
		k = (l0 - l1) / T
		return k, mm
	}
	k = (h.y[i1] - h.y[i0]) / T
	return k, h.y[i0] - k*h.t[i0]
}

// errCancelled stops the optimiser when the context ends.
var errCancelled = errors.New("fit cancelled")
