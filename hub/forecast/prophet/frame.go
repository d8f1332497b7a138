package prophet

import (
	"fmt"
	"math"
	"time"
)

// Frame is a table of rows: the history to fit (with Y) or the dates to
// predict (Y unused). Rows need not be sorted; a NaN y is a gap and is
// skipped by Fit.
type Frame struct {
	// DS are the timestamps.
	DS []time.Time
	// Y is the observed value (history only).
	Y []float64
	// Cap is the capacity of each row (logistic growth only).
	Cap []float64
	// Floor is the saturating minimum of each row (logistic growth only, optional).
	Floor []float64
	// Regressors are the extra regressors' columns, by name.
	Regressors map[string][]float64
	// Conditions are the conditional seasonalities' boolean columns, by name.
	Conditions map[string][]bool
}

// Len is the number of rows.
func (f *Frame) Len() int { return len(f.DS) }

// check verifies that every column the model needs has one value per row.
func (f *Frame) check(m *Model, needY bool) error {
	n := len(f.DS)
	if needY && len(f.Y) != n {
		return fmt.Errorf("%w: y has %d values for %d rows", ErrMissingColumn, len(f.Y), n)
	}
	if m.opts.Growth == GrowthLogistic {
		if len(f.Cap) != n {
			return fmt.Errorf("%w: cap has %d values for %d rows (logistic growth)", ErrMissingColumn, len(f.Cap), n)
		}
		if f.Floor != nil && len(f.Floor) != n {
			return fmt.Errorf("%w: floor has %d values for %d rows", ErrMissingColumn, len(f.Floor), n)
		}
	}
	for _, r := range m.opts.Regressors {
		c, ok := f.Regressors[r.Name]
		if !ok || len(c) != n {
			return fmt.Errorf("%w: regressor %q has %d values for %d rows", ErrMissingColumn, r.Name, len(c), n)
		}
		for i, v := range c {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: regressor %q row %d is %v", ErrMissingColumn, r.Name, i, v)
			}
		}
	}
	for _, s := range m.seasonalities() {
		if s.Condition == "" {
			continue
		}
		if c, ok := f.Conditions[s.Condition]; !ok || len(c) != n {
			return fmt.Errorf("%w: condition %q of seasonality %q has %d values for %d rows", ErrMissingColumn, s.Condition, s.Name, len(c), n)
		}
	}
	return nil
}

// subset returns the rows idx of f, in that order.
func (f *Frame) subset(idx []int) *Frame {
	g := &Frame{DS: make([]time.Time, len(idx))}
	pickF := func(c []float64) []float64 {
		if c == nil {
			return nil
		}
		out := make([]float64, len(idx))
		for i, j := range idx {
			out[i] = c[j]
		}
		return out
	}
	for i, j := range idx {
		g.DS[i] = f.DS[j]
	}
	g.Y, g.Cap, g.Floor = pickF(f.Y), pickF(f.Cap), pickF(f.Floor)
	if f.Regressors != nil {
		g.Regressors = make(map[string][]float64, len(f.Regressors))
		for k, c := range f.Regressors {
			if len(c) == len(f.DS) {
				g.Regressors[k] = pickF(c)
			}
		}
	}
	if f.Conditions != nil {
		g.Conditions = make(map[string][]bool, len(f.Conditions))
		for k, c := range f.Conditions {
			if len(c) != len(f.DS) {
				continue
			}
			out := make([]bool, len(idx))
			for i, j := range idx {
				out[i] = c[j]
			}
			g.Conditions[k] = out
		}
	}
	return g
}
