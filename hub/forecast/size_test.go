package forecast

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/forecast/prophet"
)

// TestFittedModelSize: a model fitted on vic_electricity (52,608
// half-hours, a temperature regressor, holidays) serialises to a few
// kilobytes, so keeping it as one store document (FittedCollection) is
// far from MaxFittedSize and MongoDB's 16 MiB. The dataset is read from
// GRIDEDGE_FORECAST_DATA (default ../../../shared/data/forecast).
func TestFittedModelSize(t *testing.T) {
	dir := os.Getenv("GRIDEDGE_FORECAST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "forecast")
	}
	fh, err := os.Open(filepath.Join(dir, "skforecast_vic_electricity.csv"))
	if err != nil {
		t.Skipf("no vic_electricity dataset (set GRIDEDGE_FORECAST_DATA): %v", err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	f := &prophet.Frame{Regressors: map[string][]float64{}}
	h := prophet.Holiday{Name: "holiday"}
	days := map[string]bool{}
	for i, r := range rows[1:] { // Time,Demand,Temperature,Date,Holiday
		ts, err1 := time.Parse(time.RFC3339, r[0])
		y, err2 := strconv.ParseFloat(r[1], 64)
		temp, err3 := strconv.ParseFloat(r[2], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("row %d: %v", i+2, r)
		}
		f.DS, f.Y = append(f.DS, ts), append(f.Y, y)
		f.Regressors["temperature"] = append(f.Regressors["temperature"], temp)
		if r[4] == "TRUE" && !days[r[3]] {
			days[r[3]] = true
			h.Dates = append(h.Dates, r[3])
		}
	}
	m, err := prophet.New(prophet.Options{Regressors: []prophet.Regressor{{Name: "temperature"}}, Holidays: []prophet.Holiday{h}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fit(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vic_electricity: %d rows, fitted model %d bytes", len(f.DS), len(b))
	if len(b) > 64<<10 {
		t.Errorf("fitted model is %d bytes, want a few kilobytes (the store keeps it as one document)", len(b))
	}
}
