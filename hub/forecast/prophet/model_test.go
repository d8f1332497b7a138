package prophet

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAutoSeasonalities(t *testing.T) {
	tests := []struct {
		name string
		n    int
		step time.Duration
		opts Options
		want []string
	}{
		{"daily rows, 3 years", 1100, 24 * time.Hour, Options{}, []string{"yearly", "weekly"}},
		{"daily rows, 1 year", 365, 24 * time.Hour, Options{}, []string{"weekly"}},
		{"hourly rows, 10 days", 240, time.Hour, Options{}, []string{"daily"}},
		{"hourly rows, 20 days", 480, time.Hour, Options{}, []string{"weekly", "daily"}},
		{"weekly rows, 3 years", 160, 7 * 24 * time.Hour, Options{}, []string{"yearly"}},
		{"monthly-ish rows, 1 year", 12, 30 * 24 * time.Hour, Options{}, nil},
		{"forced off", 1100, 24 * time.Hour, Options{YearlySeasonality: Off}, []string{"weekly"}},
		{"forced on", 365, 24 * time.Hour, Options{YearlySeasonality: On, DailySeasonality: 2}, []string{"yearly", "weekly", "daily"}},
		{"custom first, replaces auto", 365, 24 * time.Hour, Options{Seasonalities: []Seasonality{{Name: "weekly", Period: 7, FourierOrder: 5}, {Name: "monthly", Period: 30.5, FourierOrder: 5}}}, []string{"weekly", "monthly"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := synthetic(tc.n, tc.step, false, 1, 1)
			m, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.prepare(f); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range m.Seasonalities() {
				got = append(got, s.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChangepointsPlacement(t *testing.T) {
	tests := []struct {
		name string
		n    int
		nc   int
		want []int // row indexes of the changepoints
	}{
		// np.linspace(0, 79, 26).round()[1:]: 3.16→3, 6.32→6, 9.48→9, 12.64→13 …
		{"100 rows, 25 changepoints", 100, 25, []int{3, 6, 9, 13, 16, 19, 22, 25, 28, 32, 35, 38, 41, 44, 47, 51, 54, 57, 60, 63, 66, 70, 73, 76, 79}},
		{"10 rows: limited to hist_size-1", 10, 25, []int{1, 2, 3, 4, 5, 6, 7}},
		{"no changepoints: a dummy at 0", 100, 0, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := synthetic(tc.n, 24*time.Hour, false, 1, 1)
			m, err := New(Options{NChangepoints: &tc.nc})
			if err != nil {
				t.Fatal(err)
			}
			h, err := m.prepare(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []float64
			for _, i := range tc.want {
				want = append(want, h.t[i])
			}
			if got := m.st.ChangepointsT; !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestHolidayAndRegressorFeatures(t *testing.T) {
	f := synthetic(30, 12*time.Hour, false, 1, 1)
	f.Regressors = map[string][]float64{"temp": make([]float64, 30), "flag": make([]float64, 30)}
	for i := range 30 {
		f.Regressors["temp"][i] = float64(i)
		f.Regressors["flag"][i] = float64(i % 2)
	}
	zero := 0
	m, err := New(Options{
		NChangepoints: &zero, WeeklySeasonality: Off, DailySeasonality: Off,
		Holidays: []Holiday{
			{Name: "fair", Dates: []string{"2020-01-03"}, LowerWindow: -1, UpperWindow: 1, PriorScale: 5},
			{Name: "fair", Dates: []string{"2020-01-10"}, PriorScale: 5},
		},
		Regressors: []Regressor{{Name: "temp"}, {Name: "flag"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.prepare(f); err != nil {
		t.Fatal(err)
	}
	d, err := m.makeDesign(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.cols {
		names = append(names, c.name)
	}
	if want := []string{"fair_delim_+0", "fair_delim_+1", "fair_delim_-1", "temp", "flag"}; !slices.Equal(names, want) {
		t.Fatalf("columns: got %v, want %v", names, want)
	}
	if got := d.cols[0].priorScale; got != 5 {
		t.Errorf("holiday prior scale: got %v, want 5", got)
	}
	k := len(d.cols)
	for i, ds := range f.DS {
		day := ds.Format(time.DateOnly)
		wantPlus0 := day == "2020-01-03" || day == "2020-01-10"
		if got := d.x[i*k] == 1; got != wantPlus0 {
			t.Errorf("row %s fair_+0: got %v, want %v", day, got, wantPlus0)
		}
		if got, want := d.x[i*k+2] == 1, day == "2020-01-02"; got != want {
			t.Errorf("row %s fair_-1: got %v, want %v", day, got, want)
		}
	}
	// temp is standardised (mean 14.5, sample std of 0..29 = 8.80), flag is binary and is not.
	if got, want := d.x[0*k+3], (0-14.5)/math.Sqrt(77.5); math.Abs(got-want) > 1e-12 {
		t.Errorf("standardised temp row 0: got %v, want %v", got, want)
	}
	if got, want := d.x[1*k+4], 1.0; got != want {
		t.Errorf("binary flag row 1: got %v, want %v", got, want)
	}
}

func TestSerialisationRoundTrip(t *testing.T) {
	f := synthetic(200, 24*time.Hour, false, 1, 5)
	f.Conditions = map[string][]bool{"weekend": make([]bool, 200)}
	for i, ds := range f.DS {
		f.Conditions["weekend"][i] = ds.Weekday() == time.Saturday || ds.Weekday() == time.Sunday
	}
	m, err := New(Options{
		Seed:          9,
		Seasonalities: []Seasonality{{Name: "weekend_wave", Period: 1, FourierOrder: 2, Condition: "weekend"}},
		Holidays:      []Holiday{{Name: "x", Dates: []string{"2020-03-01"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.MarshalJSON(); !errors.Is(err, ErrNotFitted) {
		t.Errorf("MarshalJSON before Fit: got %v, want ErrNotFitted", err)
	}
	if err := m.Fit(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if err := m.Fit(context.Background(), f); !errors.Is(err, ErrAlreadyFitted) {
		t.Errorf("second Fit: got %v, want ErrAlreadyFitted", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	fut := &Frame{Conditions: map[string][]bool{"weekend": make([]bool, 14)}}
	for i := range 14 {
		fut.DS = append(fut.DS, m.LastTimestamp().AddDate(0, 0, i+1))
		fut.Conditions["weekend"][i] = i%7 >= 5
	}
	a, err := m.Predict(fut)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m2.Predict(fut)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Yhat {
		if a.Yhat[i] != c.Yhat[i] || a.YhatLower[i] != c.YhatLower[i] || a.YhatUpper[i] != c.YhatUpper[i] {
			t.Fatalf("row %d: reloaded model predicts %v [%v, %v], want %v [%v, %v]", i, c.Yhat[i], c.YhatLower[i], c.YhatUpper[i], a.Yhat[i], a.YhatLower[i], a.YhatUpper[i])
		}
	}
	if _, err := m.Predict(&Frame{DS: fut.DS}); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("Predict without the condition column: got %v, want ErrMissingColumn", err)
	}
}

func TestLogisticGrowthSaturates(t *testing.T) {
	// 300 daily rows fit with L-BFGS, 80 rows (every fourth day) with
	// Newton's method, as Prophet; the exact optimizer for comparison.
	tests := []struct {
		name      string
		n, every  int
		optimizer string
	}{
		{"300 rows, stan (L-BFGS)", 300, 1, OptimizerStan},
		{"80 rows, stan (Newton)", 80, 4, OptimizerStan},
		{"300 rows, exact", 300, 1, OptimizerExact},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			f := &Frame{}
			for i := range tc.n {
				x := float64(i * tc.every)
				f.DS = append(f.DS, start.AddDate(0, 0, i*tc.every))
				f.Y = append(f.Y, 10+90/(1+math.Exp(-(x-150)/25))+0.5*math.Sin(x))
				f.Cap = append(f.Cap, 100)
				f.Floor = append(f.Floor, 10)
			}
			m, err := New(Options{Growth: GrowthLogistic, WeeklySeasonality: Off, Optimizer: tc.optimizer})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Fit(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			fut := &Frame{}
			end := f.DS[len(f.DS)-1]
			for i := range 200 {
				fut.DS = append(fut.DS, end.AddDate(0, 0, i+1))
				fut.Cap = append(fut.Cap, 100)
				fut.Floor = append(fut.Floor, 10)
			}
			fc, err := m.Predict(fut)
			if err != nil {
				t.Fatal(err)
			}
			last := fc.Yhat[len(fc.Yhat)-1]
			if last > 100.5 || last < 95 {
				t.Errorf("yhat after 200 days: got %v, want just under the cap 100", last)
			}
			for i := range fc.Trend {
				if fc.Trend[i] > 100+1e-9 || fc.Trend[i] < 10-1e-9 {
					t.Fatalf("trend row %d: got %v, want within [floor 10, cap 100]", i, fc.Trend[i])
				}
			}
		})
	}
}

func TestIntervalsSeeded(t *testing.T) {
	f := synthetic(200, 24*time.Hour, false, 3, 2)
	var fitted *Model
	fit := func(seed uint64, samples int) *Forecast {
		m, err := New(Options{Seed: seed, UncertaintySamples: &samples, IntervalWidth: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Fit(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		fitted = m
		return predict60(t, m)
	}
	a, b, c := fit(1, 500), fit(1, 500), fit(2, 500)
	if !slices.Equal(a.YhatUpper, b.YhatUpper) {
		t.Errorf("same seed: upper bounds differ")
	}
	if slices.Equal(a.YhatUpper, c.YhatUpper) {
		t.Errorf("different seeds: upper bounds equal")
	}
	// Reseeding the last fit (seed 2) gives seed 1's intervals, and leaves
	// the fit's own seed alone.
	if r := predict60(t, fitted.Reseeded(1)); !slices.Equal(r.YhatUpper, a.YhatUpper) || !slices.Equal(r.Yhat, a.Yhat) {
		t.Errorf("Reseeded(1): forecast differs from a fit with seed 1")
	}
	if r := predict60(t, fitted); !slices.Equal(r.YhatUpper, c.YhatUpper) {
		t.Errorf("after Reseeded: the original model's intervals changed")
	}
	// The interval widens with the horizon (future trend changes).
	if w0, w1 := a.YhatUpper[0]-a.YhatLower[0], a.YhatUpper[59]-a.YhatLower[59]; w1 <= w0 {
		t.Errorf("interval width: got %v at 1 day and %v at 60 days, want wider later", w0, w1)
	}
	if z := fit(1, 0); z.YhatLower != nil {
		t.Errorf("0 samples: got intervals, want none")
	}
}

// predict60 forecasts the 60 days after m's history.
func predict60(t *testing.T, m *Model) *Forecast {
	t.Helper()
	fut := &Frame{}
	for i := range 60 {
		fut.DS = append(fut.DS, m.LastTimestamp().AddDate(0, 0, i+1))
	}
	fc, err := m.Predict(fut)
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func TestSwitchJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Switch
		wantErr bool
	}{
		{`"auto"`, Auto, false}, {`true`, On, false}, {`false`, Off, false}, {`7`, 7, false},
		{`"yes"`, 0, true}, {`0`, 0, true}, {`2.5`, 0, true},
	}
	for _, tc := range tests {
		var s Switch
		err := json.Unmarshal([]byte(tc.in), &s)
		if (err != nil) != tc.wantErr || (err == nil && s != tc.want) {
			t.Errorf("%s: got %v, %v; want %v, error %v", tc.in, s, err, tc.want, tc.wantErr)
			continue
		}
		if err == nil {
			b, _ := json.Marshal(s)
			if string(b) != tc.in {
				t.Errorf("marshal %v: got %s, want %s", s, b, tc.in)
			}
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	neg := -1
	o := Options{
		Growth: "cubic", NChangepoints: &neg, IntervalWidth: 1.5,
		Holidays:   []Holiday{{Name: "h", Dates: []string{"01/02/2020"}, LowerWindow: 1}},
		Regressors: []Regressor{{Name: "y"}}, Optimizer: "newton",
	}
	err := o.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("got %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"growth \"cubic\"", "nChangepoints -1", "intervalWidth 1.5", "window [1, 0]", "01/02/2020", "regressors[0].name \"y\"", "optimizer \"newton\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to mention %q", err, want)
		}
	}
}

func TestFitErrors(t *testing.T) {
	m, _ := New(Options{})
	ds := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := m.Fit(context.Background(), &Frame{DS: []time.Time{ds}, Y: []float64{1}}); !errors.Is(err, ErrTooFewRows) {
		t.Errorf("one row: got %v, want ErrTooFewRows", err)
	}
	m, _ = New(Options{Growth: GrowthLogistic})
	if err := m.Fit(context.Background(), synthetic(50, time.Hour, false, 1, 1)); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("logistic without cap: got %v, want ErrMissingColumn", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// 50 rows: the exact optimizer (as Prophet's Newton); 200: Stan's L-BFGS.
	for _, n := range []int{50, 200} {
		m, _ = New(Options{})
		if err := m.Fit(ctx, synthetic(n, 24*time.Hour, false, 1, 1)); !errors.Is(err, context.Canceled) {
			t.Errorf("%d rows, cancelled context: got %v, want context.Canceled", n, err)
		}
		if m.Fitted() {
			t.Errorf("%d rows, cancelled fit: model reports fitted", n)
		}
	}
}
