package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/forecast/prophet"
)

// spec is the case a worker (ours or R) runs, written as DIR/spec.json.
type spec struct {
	Mode       string   `json:"mode"`
	Regressors []string `json:"regressors"`
	Seed       int      `json:"seed"`
	Reps       int      `json:"reps"`
	// Optimizer is the Go model's optimizer (prophet.Options.Optimizer);
	// empty is its default. R Prophet ignores it.
	Optimizer string `json:"optimizer,omitempty"`
	// Seeds > 1 asks for the last fit's intervals simulated with seeds
	// 1..Seeds as well, in DIR/bands.csv (seed,yhat_lower,yhat_upper).
	Seeds int `json:"seeds,omitempty"`
}

// readFrame reads a ds,y[,regressors] CSV written by series.writeCSV.
func readFrame(path string) (*prophet.Frame, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	b, _ := os.ReadFile(path)
	header := strings.Split(strings.SplitN(string(b), "\n", 2)[0], ",")
	f := &prophet.Frame{Regressors: map[string][]float64{}}
	for _, r := range rows {
		t, err := time.Parse(time.DateTime, r[0])
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
		}
		y, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			y = math.NaN()
		}
		f.DS, f.Y = append(f.DS, t), append(f.Y, y)
		for j := 2; j < len(r); j++ {
			v, err := strconv.ParseFloat(r[j], 64)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
			}
			f.Regressors[header[j]] = append(f.Regressors[header[j]], v)
		}
	}
	return f, nil
}

// runWorker fits our model on DIR's case and writes DIR/forecast.csv and
// DIR/times.csv, as prophet_ref.R does for R Prophet.
func runWorker(dir string) error {
	var sp spec
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if err := json.Unmarshal(b, &sp); err != nil {
		return fmt.Errorf("decode spec: %w", err)
	}
	train, err := readFrame(filepath.Join(dir, "train.csv"))
	if err != nil {
		return err
	}
	test, err := readFrame(filepath.Join(dir, "test.csv"))
	if err != nil {
		return err
	}
	opts := prophet.Options{SeasonalityMode: sp.Mode, Seed: uint64(sp.Seed), Optimizer: sp.Optimizer}
	for _, r := range sp.Regressors {
		opts.Regressors = append(opts.Regressors, prophet.Regressor{Name: r})
	}
	if rows, err := readCSV(filepath.Join(dir, "holidays.csv")); err == nil {
		h := prophet.Holiday{Name: "holiday"}
		for _, r := range rows {
			h.Dates = append(h.Dates, r[1])
		}
		opts.Holidays = []prophet.Holiday{h}
	}
	var times strings.Builder
	times.WriteString("fit,predict\n")
	var fc *prophet.Forecast
	var m *prophet.Model
	for range max(1, sp.Reps) {
		t0 := time.Now()
		m, err = prophet.New(opts)
		if err != nil {
			return err
		}
		if err := m.Fit(context.Background(), train); err != nil {
			return err
		}
		t1 := time.Now()
		fc, err = m.Predict(&prophet.Frame{DS: test.DS, Regressors: test.Regressors})
		if err != nil {
			return err
		}
		t2 := time.Now()
		fmt.Fprintf(&times, "%g,%g\n", t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds())
	}
	var out strings.Builder
	out.WriteString("yhat,yhat_lower,yhat_upper\n")
	for i := range fc.Yhat {
		fmt.Fprintf(&out, "%g,%g,%g\n", fc.Yhat[i], fc.YhatLower[i], fc.YhatUpper[i])
	}
	if err := os.WriteFile(filepath.Join(dir, "forecast.csv"), []byte(out.String()), 0o644); err != nil {
		return fmt.Errorf("write forecast: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "times.csv"), []byte(times.String()), 0o644); err != nil {
		return fmt.Errorf("write times: %w", err)
	}
	if sp.Seeds > 1 {
		var bands strings.Builder
		bands.WriteString("seed,yhat_lower,yhat_upper\n")
		for seed := 1; seed <= sp.Seeds; seed++ {
			fs, err := m.Reseeded(uint64(seed)).Predict(&prophet.Frame{DS: test.DS, Regressors: test.Regressors})
			if err != nil {
				return err
			}
			for i := range fs.Yhat {
				fmt.Fprintf(&bands, "%d,%g,%g\n", seed, fs.YhatLower[i], fs.YhatUpper[i])
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "bands.csv"), []byte(bands.String()), 0o644); err != nil {
			return fmt.Errorf("write bands: %w", err)
		}
	}
	return nil
}
