package prophet

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Growth names the trend model.
const (
	GrowthLinear   = "linear"   // piecewise-linear trend (Prophet's default)
	GrowthLogistic = "logistic" // saturating trend; every row needs a cap
	GrowthFlat     = "flat"     // constant trend
)

// Modes of a component: added to the trend, or multiplied with it.
const (
	ModeAdditive       = "additive"
	ModeMultiplicative = "multiplicative"
)

// Default values of [Options], Prophet's own.
const (
	DefaultNChangepoints         = 25
	DefaultChangepointRange      = 0.8
	DefaultChangepointPriorScale = 0.05
	DefaultSeasonalityPriorScale = 10.0
	DefaultHolidaysPriorScale    = 10.0
	DefaultIntervalWidth         = 0.8
	DefaultUncertaintySamples    = 1000
	DefaultMaxIterations         = 10000
)

// Optimizers of the MAP fit ([Options].Optimizer).
const (
	// OptimizerStan (the default) fits as Prophet does: Stan's L-BFGS with
	// the settings Prophet runs it with (rstan::optimizing, CmdStan
	// optimize), from Prophet's starting point, so the fit stops where
	// Prophet's stops, which on some series is short of the exact optimum;
	// on histories under 100 rows, and after a failed L-BFGS line search,
	// Stan's Newton optimizer, as Prophet.
	OptimizerStan = "stan"
	// OptimizerExact is gonum's L-BFGS in whitened coordinates, run to the
	// optimum of the objective (|δ| smoothed by 1e-4).
	OptimizerExact = "exact"
)

// Switch turns one of the built-in seasonalities (yearly, weekly, daily) on
// or off. The zero value, Auto, lets the history decide as Prophet does; Off
// disables it; On forces it with the default Fourier order; a positive value
// forces it with that order. In JSON it is "auto", true, false or a number.
type Switch int

// Values of a [Switch] other than a Fourier order.
const (
	Auto Switch = 0
	Off  Switch = -1
	On   Switch = -2
)

// MarshalJSON writes "auto", true, false or the order.
func (s Switch) MarshalJSON() ([]byte, error) {
	switch {
	case s == Auto:
		return []byte(`"auto"`), nil
	case s == Off:
		return []byte("false"), nil
	case s == On:
		return []byte("true"), nil
	case s > 0:
		return json.Marshal(int(s))
	}
	return nil, fmt.Errorf("%w: seasonality switch %d", ErrInvalidOptions, int(s))
}

// UnmarshalJSON reads "auto", true, false or a positive Fourier order.
func (s *Switch) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode seasonality switch: %w", err)
	}
	switch v := v.(type) {
	case nil:
		*s = Auto
	case string:
		if v != "auto" {
			return fmt.Errorf("%w: seasonality switch %q (want \"auto\", true, false or an order)", ErrInvalidOptions, v)
		}
		*s = Auto
	case bool:
		*s = Off
		if v {
			*s = On
		}
	case float64:
		if v < 1 || v != float64(int(v)) {
			return fmt.Errorf("%w: seasonality order %v (want a positive integer)", ErrInvalidOptions, v)
		}
		*s = Switch(v)
	default:
		return fmt.Errorf("%w: seasonality switch %s", ErrInvalidOptions, b)
	}
	return nil
}

// Seasonality is a Fourier seasonality: Order sine/cosine pairs of period
// Period days. With a Condition, the terms apply only to rows whose boolean
// column of that name (Frame.Conditions) is true.
type Seasonality struct {
	// Name of the component ("yearly", "weekly", "daily" are the built-ins).
	Name string `json:"name"`
	// Period in days.
	Period float64 `json:"period"`
	// FourierOrder is the number of sine/cosine pairs.
	FourierOrder int `json:"fourierOrder"`
	// PriorScale of the Normal prior on the coefficients; 0 means
	// Options.SeasonalityPriorScale.
	PriorScale float64 `json:"priorScale,omitempty"`
	// Mode is additive or multiplicative; empty means Options.SeasonalityMode.
	Mode string `json:"mode,omitempty"`
	// Condition names a boolean column of the frame; empty means always on.
	Condition string `json:"condition,omitempty"`
}

// Holiday is a special event: indicator features for each date plus the days
// in [LowerWindow, UpperWindow] around it (LowerWindow ≤ 0 ≤ UpperWindow).
type Holiday struct {
	// Name of the holiday; rows sharing a name share a prior scale.
	Name string `json:"name"`
	// Dates are calendar days "YYYY-MM-DD" (matched against the UTC date of ds).
	Dates []string `json:"dates"`
	// LowerWindow is the number of days before each date (≤ 0).
	LowerWindow int `json:"lowerWindow,omitempty"`
	// UpperWindow is the number of days after each date (≥ 0).
	UpperWindow int `json:"upperWindow,omitempty"`
	// PriorScale of the Normal prior; 0 means Options.HolidaysPriorScale.
	PriorScale float64 `json:"priorScale,omitempty"`
}

// Regressor is an extra regressor: a numeric column of the frame
// (Frame.Regressors) known for the history and for every future row.
type Regressor struct {
	// Name of the column.
	Name string `json:"name"`
	// PriorScale of the Normal prior; 0 means Options.HolidaysPriorScale (as Prophet).
	PriorScale float64 `json:"priorScale,omitempty"`
	// Standardize: nil means auto (standardise unless the column is binary 0/1).
	Standardize *bool `json:"standardize,omitempty"`
	// Mode is additive or multiplicative; empty means Options.SeasonalityMode.
	Mode string `json:"mode,omitempty"`
}

// Options configure a model; the zero value is Prophet's defaults.
type Options struct {
	// Growth is linear (default), logistic or flat.
	Growth string `json:"growth,omitempty"`
	// Changepoints, when set, are the trend changepoints (RFC 3339) instead
	// of the automatic ones.
	Changepoints []time.Time `json:"changepoints,omitempty"`
	// NChangepoints is the number of automatic changepoints (default 25).
	NChangepoints *int `json:"nChangepoints,omitempty"`
	// ChangepointRange is the share of the history holding automatic
	// changepoints (default 0.8).
	ChangepointRange float64 `json:"changepointRange,omitempty"`
	// YearlySeasonality, WeeklySeasonality, DailySeasonality switch the
	// built-in seasonalities (orders 10, 3 and 4).
	YearlySeasonality Switch `json:"yearlySeasonality"`
	WeeklySeasonality Switch `json:"weeklySeasonality"`
	DailySeasonality  Switch `json:"dailySeasonality"`
	// SeasonalityMode is additive (default) or multiplicative.
	SeasonalityMode string `json:"seasonalityMode,omitempty"`
	// SeasonalityPriorScale is the default prior scale of seasonalities (10).
	SeasonalityPriorScale float64 `json:"seasonalityPriorScale,omitempty"`
	// HolidaysPriorScale is the default prior scale of holidays and
	// regressors (10).
	HolidaysPriorScale float64 `json:"holidaysPriorScale,omitempty"`
	// HolidaysMode is additive or multiplicative; empty means SeasonalityMode.
	HolidaysMode string `json:"holidaysMode,omitempty"`
	// ChangepointPriorScale is the scale of the Laplace prior on trend
	// changes (0.05).
	ChangepointPriorScale float64 `json:"changepointPriorScale,omitempty"`
	// IntervalWidth is the width of the uncertainty interval (0.8).
	IntervalWidth float64 `json:"intervalWidth,omitempty"`
	// UncertaintySamples is the number of simulated paths (1000); 0
	// disables intervals.
	UncertaintySamples *int `json:"uncertaintySamples,omitempty"`
	// Seed of the simulation; the same seed gives the same intervals.
	Seed uint64 `json:"seed,omitempty"`
	// Seasonalities are custom (and conditional) seasonalities.
	Seasonalities []Seasonality `json:"seasonalities,omitempty"`
	// Holidays are special dates.
	Holidays []Holiday `json:"holidays,omitempty"`
	// Regressors are extra regressors.
	Regressors []Regressor `json:"regressors,omitempty"`
	// MaxIterations bounds the optimizer's iterations (10000, as Prophet).
	MaxIterations int `json:"maxIterations,omitempty"`
	// Optimizer finds the MAP: "stan" (default, as Prophet) or "exact"
	// ([OptimizerStan], [OptimizerExact]).
	Optimizer string `json:"optimizer,omitempty"`
}

// withDefaults returns o with every unset field at Prophet's default.
func (o Options) withDefaults() Options {
	if o.Growth == "" {
		o.Growth = GrowthLinear
	}
	if o.NChangepoints == nil {
		n := DefaultNChangepoints
		o.NChangepoints = &n
	}
	if o.ChangepointRange == 0 {
		o.ChangepointRange = DefaultChangepointRange
	}
	if o.SeasonalityMode == "" {
		o.SeasonalityMode = ModeAdditive
	}
	if o.HolidaysMode == "" {
		o.HolidaysMode = o.SeasonalityMode
	}
	if o.SeasonalityPriorScale == 0 {
		o.SeasonalityPriorScale = DefaultSeasonalityPriorScale
	}
	if o.HolidaysPriorScale == 0 {
		o.HolidaysPriorScale = DefaultHolidaysPriorScale
	}
	if o.ChangepointPriorScale == 0 {
		o.ChangepointPriorScale = DefaultChangepointPriorScale
	}
	if o.IntervalWidth == 0 {
		o.IntervalWidth = DefaultIntervalWidth
	}
	if o.UncertaintySamples == nil {
		n := DefaultUncertaintySamples
		o.UncertaintySamples = &n
	}
	if o.MaxIterations == 0 {
		o.MaxIterations = DefaultMaxIterations
	}
	if o.Optimizer == "" {
		o.Optimizer = OptimizerStan
	}
	o.Seasonalities = append([]Seasonality(nil), o.Seasonalities...)
	for i := range o.Seasonalities {
		s := &o.Seasonalities[i]
		if s.PriorScale == 0 {
			s.PriorScale = o.SeasonalityPriorScale
		}
		if s.Mode == "" {
			s.Mode = o.SeasonalityMode
		}
	}
	o.Holidays = append([]Holiday(nil), o.Holidays...)
	for i := range o.Holidays {
		if o.Holidays[i].PriorScale == 0 {
			o.Holidays[i].PriorScale = o.HolidaysPriorScale
		}
	}
	o.Regressors = append([]Regressor(nil), o.Regressors...)
	for i := range o.Regressors {
		r := &o.Regressors[i]
		if r.PriorScale == 0 {
			r.PriorScale = o.HolidaysPriorScale
		}
		if r.Mode == "" {
			r.Mode = o.SeasonalityMode
		}
	}
	return o
}

// Validate reports every invalid option at once.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	switch o.Growth {
	case GrowthLinear, GrowthLogistic, GrowthFlat:
	default:
		bad("growth %q (want linear, logistic or flat)", o.Growth)
	}
	if *o.NChangepoints < 0 {
		bad("nChangepoints %d (want ≥ 0)", *o.NChangepoints)
	}
	if o.ChangepointRange <= 0 || o.ChangepointRange > 1 {
		bad("changepointRange %v (want in (0, 1])", o.ChangepointRange)
	}
	validMode := func(what, m string) {
		if m != ModeAdditive && m != ModeMultiplicative {
			bad("%s mode %q (want additive or multiplicative)", what, m)
		}
	}
	validMode("seasonality", o.SeasonalityMode)
	validMode("holidays", o.HolidaysMode)
	for what, v := range map[string]float64{
		"seasonalityPriorScale": o.SeasonalityPriorScale,
		"holidaysPriorScale":    o.HolidaysPriorScale,
		"changepointPriorScale": o.ChangepointPriorScale,
	} {
		if v <= 0 {
			bad("%s %v (want > 0)", what, v)
		}
	}
	if o.IntervalWidth <= 0 || o.IntervalWidth >= 1 {
		bad("intervalWidth %v (want in (0, 1))", o.IntervalWidth)
	}
	if *o.UncertaintySamples < 0 {
		bad("uncertaintySamples %d (want ≥ 0)", *o.UncertaintySamples)
	}
	if o.MaxIterations < 0 {
		bad("maxIterations %d (want ≥ 0)", o.MaxIterations)
	}
	if o.Optimizer != OptimizerExact && o.Optimizer != OptimizerStan {
		bad("optimizer %q (want exact or stan)", o.Optimizer)
	}
	for _, sw := range []struct {
		name string
		s    Switch
	}{{"yearlySeasonality", o.YearlySeasonality}, {"weeklySeasonality", o.WeeklySeasonality}, {"dailySeasonality", o.DailySeasonality}} {
		if sw.s < On {
			bad("%s %d", sw.name, int(sw.s))
		}
	}
	names := map[string]bool{}
	for i, s := range o.Seasonalities {
		if s.Name == "" || strings.Contains(s.Name, "_delim_") {
			bad("seasonalities[%d].name %q", i, s.Name)
		}
		if names[s.Name] {
			bad("seasonalities[%d].name %q is repeated", i, s.Name)
		}
		names[s.Name] = true
		if s.Period <= 0 {
			bad("seasonalities[%d] (%s) period %v (want > 0)", i, s.Name, s.Period)
		}
		if s.FourierOrder <= 0 {
			bad("seasonalities[%d] (%s) fourierOrder %d (want > 0)", i, s.Name, s.FourierOrder)
		}
		if s.PriorScale <= 0 {
			bad("seasonalities[%d] (%s) priorScale %v (want > 0)", i, s.Name, s.PriorScale)
		}
		validMode(fmt.Sprintf("seasonalities[%d] (%s)", i, s.Name), s.Mode)
	}
	hps := map[string]float64{}
	for i, h := range o.Holidays {
		if h.Name == "" || strings.Contains(h.Name, "_delim_") {
			bad("holidays[%d].name %q", i, h.Name)
		}
		if ps, ok := hps[h.Name]; ok && ps != h.PriorScale {
			bad("holidays[%d] (%s): prior scale %v differs from an earlier %v", i, h.Name, h.PriorScale, ps)
		}
		hps[h.Name] = h.PriorScale
		if h.LowerWindow > 0 || h.UpperWindow < 0 {
			bad("holidays[%d] (%s) window [%d, %d] (want lower ≤ 0 ≤ upper)", i, h.Name, h.LowerWindow, h.UpperWindow)
		}
		if h.PriorScale <= 0 {
			bad("holidays[%d] (%s) priorScale %v (want > 0)", i, h.Name, h.PriorScale)
		}
		for j, d := range h.Dates {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				bad("holidays[%d] (%s) dates[%d] %q (want YYYY-MM-DD)", i, h.Name, j, d)
			}
		}
	}
	rnames := map[string]bool{}
	for i, r := range o.Regressors {
		if r.Name == "" || r.Name == "ds" || r.Name == "y" || r.Name == "cap" || r.Name == "floor" {
			bad("regressors[%d].name %q", i, r.Name)
		}
		if rnames[r.Name] || hps[r.Name] != 0 || names[r.Name] {
			bad("regressors[%d].name %q is already used", i, r.Name)
		}
		rnames[r.Name] = true
		if r.PriorScale <= 0 {
			bad("regressors[%d] (%s) priorScale %v (want > 0)", i, r.Name, r.PriorScale)
		}
		validMode(fmt.Sprintf("regressors[%d] (%s)", i, r.Name), r.Mode)
	}
	return errors.Join(errs...)
}
