package prophet

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// column describes one column of the feature matrix.
type column struct {
	name       string  // e.g. "weekly_delim_3", "xmas_delim_+0", "temp"
	component  string  // seasonality, holiday or regressor name
	priorScale float64 // scale of the Normal prior on its coefficient
	mult       bool    // multiplicative (else additive)
}

// design is the feature matrix of a frame: row-major, n rows of len(cols).
type design struct {
	x    []float64
	n    int
	cols []column
}

// daysSinceEpoch is Prophet's time variable of Fourier series: days since
// 1970-01-01 UTC.
func daysSinceEpoch(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9 / 86400
}

// fourierInto writes sin(2πjt/p), cos(2πjt/p) for j = 1..order into dst.
func fourierInto(dst []float64, days, period float64, order int) {
	// Angle of the first harmonic, then the higher ones by angle addition
	// (much faster than order × sin/cos and accurate to ~1e-15 for order ≤ 50).
	a := 2 * math.Pi * math.Mod(days, period) / period
	s1, c1 := math.Sincos(a)
	s, c := s1, c1
	for j := 0; j < order; j++ {
		dst[2*j], dst[2*j+1] = s, c
		s, c = s*c1+c*s1, c*c1-s*s1
	}
}

// holidayKey is Prophet's feature name of one day of a holiday's window.
func holidayKey(name string, offset int) string {
	sign := "+"
	if offset < 0 {
		sign = "-"
	}
	return name + "_delim_" + sign + strconv.Itoa(abs(offset))
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// holidayColumns returns, sorted by key as Prophet does, each holiday
// window day's key with the calendar days it marks.
func holidayColumns(hs []Holiday, names []string) (keys []string, days map[string][]string, scales map[string]float64) {
	days = map[string][]string{}
	scales = map[string]float64{}
	for _, h := range hs {
		if names != nil && !slices.Contains(names, h.Name) {
			continue
		}
		scales[h.Name] = h.PriorScale
		for _, d := range h.Dates {
			t, err := time.Parse(time.DateOnly, d)
			if err != nil {
				continue // refused by Validate
			}
			for off := h.LowerWindow; off <= h.UpperWindow; off++ {
				k := holidayKey(h.Name, off)
				days[k] = append(days[k], t.AddDate(0, 0, off).Format(time.DateOnly))
			}
		}
		for off := h.LowerWindow; off <= h.UpperWindow; off++ {
			if _, ok := days[holidayKey(h.Name, off)]; !ok {
				days[holidayKey(h.Name, off)] = nil
			}
		}
	}
	for k := range days {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, days, scales
}

// makeDesign builds the seasonal, holiday and regressor features of f,
// in Prophet's column order: seasonalities, holidays, regressors.
func (m *Model) makeDesign(f *Frame) (*design, error) {
	n := f.Len()
	var cols []column
	seas := m.seasonalities()
	for _, s := range seas {
		for j := 1; j <= s.FourierOrder; j++ {
			for _, fn := range []string{"sin", "cos"} {
				cols = append(cols, column{
					name:       s.Name + "_delim_" + fn + strconv.Itoa(j),
					component:  s.Name,
					priorScale: s.PriorScale,
					mult:       s.Mode == ModeMultiplicative,
				})
			}
		}
	}
	hkeys, hdays, hscales := holidayColumns(m.opts.Holidays, m.st.HolidayNames)
	for _, k := range hkeys {
		name := k[:strings.Index(k, "_delim_")]
		cols = append(cols, column{name: k, component: name, priorScale: hscales[name], mult: m.opts.HolidaysMode == ModeMultiplicative})
	}
	for _, r := range m.st.Regressors {
		cols = append(cols, column{name: r.Name, component: r.Name, priorScale: r.PriorScale, mult: r.Mode == ModeMultiplicative})
	}
	k := len(cols)
	d := &design{x: make([]float64, n*k), n: n, cols: cols}
	if k == 0 {
		return d, nil
	}
	// Seasonalities.
	off := 0
	for _, s := range seas {
		var cond []bool
		if s.Condition != "" {
			c, ok := f.Conditions[s.Condition]
			if !ok || len(c) != n {
				return nil, fmt.Errorf("%w: condition %q of seasonality %q", ErrMissingColumn, s.Condition, s.Name)
			}
			cond = c
		}
		for i := range n {
			if cond != nil && !cond[i] {
				continue
			}
			row := d.x[i*k+off : i*k+off+2*s.FourierOrder]
			fourierInto(row, daysSinceEpoch(f.DS[i]), s.Period, s.FourierOrder)
		}
		off += 2 * s.FourierOrder
	}
	// Holidays: mark every row whose UTC date is a window day.
	if len(hkeys) > 0 {
		rowsByDay := map[string][]int{}
		for i, t := range f.DS {
			day := t.UTC().Format(time.DateOnly)
			rowsByDay[day] = append(rowsByDay[day], i)
		}
		for j, key := range hkeys {
			for _, day := range hdays[key] {
				for _, i := range rowsByDay[day] {
					d.x[i*k+off+j] = 1
				}
			}
		}
		off += len(hkeys)
	}
	// Regressors, standardised with the history's mean and deviation.
	for j, r := range m.st.Regressors {
		c, ok := f.Regressors[r.Name]
		if !ok || len(c) != n {
			return nil, fmt.Errorf("%w: regressor %q", ErrMissingColumn, r.Name)
		}
		for i := range n {
			d.x[i*k+off+j] = (c[i] - r.Mu) / r.Std
		}
	}
	return d, nil
}
