package prophet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// serialFormat names GridEdge's serialisation of a fitted model.
const (
	serialFormat  = "gridedge-prophet"
	serialVersion = 1
)

// serialModel is the JSON form of a fitted model.
type serialModel struct {
	Format  string  `json:"format"`
	Version int     `json:"version"`
	Options Options `json:"options"`
	State   *state  `json:"state"`
}

// MarshalJSON serialises a fitted model (options, scaling, changepoints,
// seasonalities, regressor standardisation and parameters). It returns
// ErrNotFitted for an unfitted one.
func (m *Model) MarshalJSON() ([]byte, error) {
	if m.st == nil {
		return nil, ErrNotFitted
	}
	return json.Marshal(serialModel{Format: serialFormat, Version: serialVersion, Options: m.opts, State: m.st})
}

// Load reloads a model serialised by [Model.MarshalJSON].
func Load(data []byte) (*Model, error) {
	var s serialModel
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if s.Format != serialFormat || s.Version != serialVersion {
		return nil, fmt.Errorf("decode model: format %q version %d (want %q version %d)", s.Format, s.Version, serialFormat, serialVersion)
	}
	m, err := New(s.Options)
	if err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if err := s.State.check(); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	m.st = s.State
	return m, nil
}

// check verifies the consistency of a decoded state.
func (st *state) check() error {
	if st == nil {
		return fmt.Errorf("%w: no fitted state", ErrNotFitted)
	}
	if st.TScale <= 0 || st.YScale <= 0 {
		return fmt.Errorf("%w: tScale %v, yScale %v (want > 0)", ErrInvalidOptions, st.TScale, st.YScale)
	}
	if len(st.ChangepointsT) != len(st.Params.Delta) {
		return fmt.Errorf("%w: %d changepoints for %d deltas", ErrInvalidOptions, len(st.ChangepointsT), len(st.Params.Delta))
	}
	k := 0
	for _, s := range st.Seasonalities {
		k += 2 * s.FourierOrder
	}
	k += len(st.Regressors)
	if len(st.Params.Beta) < k {
		return fmt.Errorf("%w: %d coefficients for at least %d features", ErrInvalidOptions, len(st.Params.Beta), k)
	}
	return nil
}

// prophetJSON is the subset of Python Prophet's model_to_json this package
// reads.
type prophetJSON struct {
	Growth                string                 `json:"growth"`
	NChangepoints         int                    `json:"n_changepoints"`
	ChangepointRange      float64                `json:"changepoint_range"`
	SeasonalityMode       string                 `json:"seasonality_mode"`
	SeasonalityPriorScale float64                `json:"seasonality_prior_scale"`
	ChangepointPriorScale float64                `json:"changepoint_prior_scale"`
	HolidaysPriorScale    float64                `json:"holidays_prior_scale"`
	IntervalWidth         float64                `json:"interval_width"`
	UncertaintySamples    int                    `json:"uncertainty_samples"`
	YScale                float64                `json:"y_scale"`
	LogisticFloor         bool                   `json:"logistic_floor"`
	Start                 float64                `json:"start"`
	TScale                float64                `json:"t_scale"`
	ChangepointsT         []float64              `json:"changepoints_t"`
	Seasonalities         [2]json.RawMessage     `json:"seasonalities"`
	ExtraRegressors       [2]json.RawMessage     `json:"extra_regressors"`
	Holidays              *string                `json:"holidays"`
	TrainHolidayNames     *string                `json:"train_holiday_names"`
	ComponentModes        map[string][]string    `json:"component_modes"`
	HistoryDates          string                 `json:"history_dates"`
	Params                map[string][][]float64 `json:"params"`
}

// LoadProphetJSON reads a model serialised by Python Prophet's
// model_to_json (the JSON text, or that text JSON-encoded again as
// model_to_json's result is often stored) and returns it with the dates of
// its history. Only MAP fits are supported (the first sample of each
// parameter is used).
func LoadProphetJSON(data []byte) (*Model, []time.Time, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var inner string
		if err := json.Unmarshal(data, &inner); err != nil {
			return nil, nil, fmt.Errorf("decode prophet model: %w", err)
		}
		data = []byte(inner)
	}
	var pj prophetJSON
	if err := json.Unmarshal(data, &pj); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: %w", err)
	}
	first := func(name string) ([]float64, error) {
		v := pj.Params[name]
		if len(v) == 0 {
			return nil, fmt.Errorf("decode prophet model: parameter %q missing", name)
		}
		return v[0], nil
	}
	o := Options{
		Growth: pj.Growth, NChangepoints: &pj.NChangepoints, ChangepointRange: pj.ChangepointRange,
		SeasonalityMode: pj.SeasonalityMode, SeasonalityPriorScale: pj.SeasonalityPriorScale,
		ChangepointPriorScale: pj.ChangepointPriorScale, HolidaysPriorScale: pj.HolidaysPriorScale,
		IntervalWidth: pj.IntervalWidth, UncertaintySamples: &pj.UncertaintySamples,
	}
	o.HolidaysMode = o.SeasonalityMode
	for mode, comps := range pj.ComponentModes {
		if slices.Contains(comps, "holidays") {
			o.HolidaysMode = mode
		}
	}
	st := &state{
		Start: time.Unix(0, int64(math.Round(pj.Start*1e9))).UTC(), TScale: pj.TScale, YScale: pj.YScale,
		LogisticFloor: pj.LogisticFloor, ChangepointsT: pj.ChangepointsT,
	}
	var order []string
	var seas map[string]struct {
		Period        float64 `json:"period"`
		FourierOrder  int     `json:"fourier_order"`
		PriorScale    float64 `json:"prior_scale"`
		Mode          string  `json:"mode"`
		ConditionName *string `json:"condition_name"`
	}
	if err := json.Unmarshal(pj.Seasonalities[0], &order); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: seasonalities: %w", err)
	}
	if err := json.Unmarshal(pj.Seasonalities[1], &seas); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: seasonalities: %w", err)
	}
	for _, name := range order {
		s := seas[name]
		sea := Seasonality{Name: name, Period: s.Period, FourierOrder: s.FourierOrder, PriorScale: s.PriorScale, Mode: s.Mode}
		if s.ConditionName != nil {
			sea.Condition = *s.ConditionName
		}
		st.Seasonalities = append(st.Seasonalities, sea)
		if name != "yearly" && name != "weekly" && name != "daily" {
			o.Seasonalities = append(o.Seasonalities, sea)
		}
	}
	var rorder []string
	var regs map[string]struct {
		PriorScale  float64 `json:"prior_scale"`
		Standardize any     `json:"standardize"`
		Mu          float64 `json:"mu"`
		Std         float64 `json:"std"`
		Mode        string  `json:"mode"`
	}
	if err := json.Unmarshal(pj.ExtraRegressors[0], &rorder); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: extra_regressors: %w", err)
	}
	if err := json.Unmarshal(pj.ExtraRegressors[1], &regs); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: extra_regressors: %w", err)
	}
	for _, name := range rorder {
		r := regs[name]
		reg := Regressor{Name: name, PriorScale: r.PriorScale, Mode: r.Mode}
		o.Regressors = append(o.Regressors, reg)
		st.Regressors = append(st.Regressors, fittedRegressor{Regressor: reg, Mu: r.Mu, Std: r.Std})
	}
	if pj.Holidays != nil {
		hs, err := decodeProphetHolidays(*pj.Holidays, o.HolidaysPriorScale)
		if err != nil {
			return nil, nil, err
		}
		o.Holidays = hs
	}
	if pj.TrainHolidayNames != nil {
		var s struct {
			Data []string `json:"data"`
		}
		if err := json.Unmarshal([]byte(*pj.TrainHolidayNames), &s); err != nil {
			return nil, nil, fmt.Errorf("decode prophet model: train_holiday_names: %w", err)
		}
		st.HolidayNames = s.Data
	}
	var hd struct {
		Data []string `json:"data"`
	}
	if err := json.Unmarshal([]byte(pj.HistoryDates), &hd); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: history_dates: %w", err)
	}
	dates := make([]time.Time, len(hd.Data))
	for i, s := range hd.Data {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, nil, fmt.Errorf("decode prophet model: history_dates[%d]: %w", i, err)
		}
		dates[i] = t
	}
	if len(dates) > 0 {
		st.LastDS = slices.MaxFunc(dates, time.Time.Compare)
		st.NHistory = len(dates)
	}
	for _, name := range []string{"k", "m", "sigma_obs", "delta", "beta"} {
		v, err := first(name)
		if err != nil {
			return nil, nil, err
		}
		switch name {
		case "k":
			st.Params.K = v[0]
		case "m":
			st.Params.M = v[0]
		case "sigma_obs":
			st.Params.SigmaObs = v[0]
		case "delta":
			st.Params.Delta = v
		case "beta":
			st.Params.Beta = v
		}
	}
	m, err := New(o)
	if err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: %w", err)
	}
	if err := st.check(); err != nil {
		return nil, nil, fmt.Errorf("decode prophet model: %w", err)
	}
	m.st = st
	return m, dates, nil
}

// decodeProphetHolidays reads Prophet's holidays DataFrame (pandas
// "table" orient JSON) into holidays grouped by name.
func decodeProphetHolidays(s string, defScale float64) ([]Holiday, error) {
	var tbl struct {
		Data []struct {
			Holiday     string   `json:"holiday"`
			DS          string   `json:"ds"`
			LowerWindow *float64 `json:"lower_window"`
			UpperWindow *float64 `json:"upper_window"`
			PriorScale  *float64 `json:"prior_scale"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(s), &tbl); err != nil {
		return nil, fmt.Errorf("decode prophet model: holidays: %w", err)
	}
	var out []Holiday
	for _, r := range tbl.Data {
		t, err := time.Parse(time.RFC3339Nano, r.DS)
		if err != nil {
			return nil, fmt.Errorf("decode prophet model: holiday %q date %q: %w", r.Holiday, r.DS, err)
		}
		h := Holiday{Name: r.Holiday, PriorScale: defScale}
		if r.LowerWindow != nil {
			h.LowerWindow = int(*r.LowerWindow)
		}
		if r.UpperWindow != nil {
			h.UpperWindow = int(*r.UpperWindow)
		}
		if r.PriorScale != nil && !math.IsNaN(*r.PriorScale) {
			h.PriorScale = *r.PriorScale
		}
		h.Dates = []string{t.UTC().Format(time.DateOnly)}
		out = append(out, h)
	}
	return out, nil
}
