package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// series is a loaded dataset: rows sorted by ds.
type series struct {
	ds       []time.Time
	y        []float64
	regs     map[string][]float64
	holidays []string // calendar days
}

// dataset describes one benchmark case of the protocol.
type dataset struct {
	name     string
	file     string
	h        int    // horizon (rows)
	m        int    // seasonal period of MASE's naive forecast (rows)
	windows  int    // rolling windows of h rows at the end (1: the last h rows)
	mode     string // seasonality mode
	regs     []string
	holidays bool
	load     func(path string) (*series, error)
	rReps    int
}

var datasets = []dataset{
	{name: "peyton_manning", file: "prophet_example_wp_log_peyton_manning.csv", h: 365, m: 7, windows: 1, mode: "additive", load: loadDSY, rReps: 3},
	{name: "retail_sales", file: "prophet_example_retail_sales.csv", h: 12, m: 12, windows: 1, mode: "additive", load: loadDSY, rReps: 3},
	{name: "air_passengers", file: "prophet_example_air_passengers.csv", h: 12, m: 12, windows: 1, mode: "multiplicative", load: loadDSY, rReps: 3},
	{name: "yosemite_5min", file: "prophet_example_yosemite_temps.csv", h: 288, m: 288, windows: 1, mode: "additive", load: loadDSY, rReps: 1},
	{name: "pjm_hourly", file: "pjm_load_hourly.csv", h: 24, m: 24, windows: 7, mode: "additive", load: loadDSY, rReps: 1},
	{name: "vic_electricity", file: "skforecast_vic_electricity.csv", h: 336, m: 48, windows: 1, mode: "additive", regs: []string{"temperature"}, holidays: true, load: loadVic, rReps: 1},
}

// readCSV reads a CSV file, accepting old-Mac CR-only line endings.
func readCSV(path string) ([][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	if !bytes.Contains(b, []byte("\n")) {
		b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("parse %s: no rows", filepath.Base(path))
	}
	return rows[1:], nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.DateTime, time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q", s)
}

// loadDSY reads a two-column ds,y file (any header names); an empty or
// non-numeric y is a gap (NaN).
func loadDSY(path string) (*series, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	s := &series{}
	for i, r := range rows {
		t, err := parseTime(r[0])
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", filepath.Base(path), i+2, err)
		}
		y, err := strconv.ParseFloat(strings.TrimSpace(r[1]), 64)
		if err != nil {
			y = math.NaN()
		}
		s.ds, s.y = append(s.ds, t), append(s.y, y)
	}
	s.sort()
	return s, nil
}

// loadVic reads Victoria's half-hourly demand with the temperature
// regressor and the holiday flag (Time,Demand,Temperature,Date,Holiday).
func loadVic(path string) (*series, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	s := &series{regs: map[string][]float64{}}
	days := map[string]bool{}
	for i, r := range rows {
		t, err := parseTime(r[0])
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", filepath.Base(path), i+2, err)
		}
		y, err1 := strconv.ParseFloat(r[1], 64)
		temp, err2 := strconv.ParseFloat(r[2], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s row %d: bad number", filepath.Base(path), i+2)
		}
		s.ds, s.y = append(s.ds, t.UTC()), append(s.y, y)
		s.regs["temperature"] = append(s.regs["temperature"], temp)
		if r[4] == "TRUE" && !days[r[3]] {
			days[r[3]] = true
			s.holidays = append(s.holidays, r[3])
		}
	}
	s.sort()
	return s, nil
}

// sort orders the rows by ds.
func (s *series) sort() {
	idx := make([]int, len(s.ds))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s.ds[a].Compare(s.ds[b]) })
	ds, y := make([]time.Time, len(idx)), make([]float64, len(idx))
	for i, j := range idx {
		ds[i], y[i] = s.ds[j], s.y[j]
	}
	s.ds, s.y = ds, y
	for k, c := range s.regs {
		out := make([]float64, len(idx))
		for i, j := range idx {
			out[i] = c[j]
		}
		s.regs[k] = out
	}
}

// slice returns rows [a, b).
func (s *series) slice(a, b int) *series {
	out := &series{ds: s.ds[a:b], y: s.y[a:b], holidays: s.holidays}
	if s.regs != nil {
		out.regs = map[string][]float64{}
		for k, c := range s.regs {
			out.regs[k] = c[a:b]
		}
	}
	return out
}

// writeCSV writes ds,y[,regressors] with ds as "YYYY-MM-DD HH:MM:SS" UTC.
func (s *series) writeCSV(path string, regs []string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(append([]string{"ds", "y"}, regs...))
	for i := range s.ds {
		row := []string{s.ds[i].UTC().Format(time.DateTime), strconv.FormatFloat(s.y[i], 'g', -1, 64)}
		if math.IsNaN(s.y[i]) {
			row[1] = "NA"
		}
		for _, r := range regs {
			row = append(row, strconv.FormatFloat(s.regs[r][i], 'g', -1, 64))
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
