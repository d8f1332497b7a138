package prophet

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLoadProphetJSONGolden predicts with a model fitted and serialised by
// Python Prophet 1.0.1: no optimiser runs, so the value must match Prophet's
// own test to rounding.
func TestLoadProphetJSONGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "prophet_tests_serialized_model_v1.0.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, dates, err := LoadProphetJSON(data)
	if err != nil {
		t.Fatalf("LoadProphetJSON: %v", err)
	}
	if got, want := len(dates), 20; got != want {
		t.Fatalf("history dates: got %d, want %d", got, want)
	}
	// make_future_dataframe(10): the history dates and 10 more days.
	last := dates[len(dates)-1]
	for i := 1; i <= 10; i++ {
		dates = append(dates, last.AddDate(0, 0, i))
	}
	fc, err := m.Predict(&Frame{DS: dates})
	if err != nil {
		t.Fatalf("Predict: %v", err)
	}
	const want = 29.282810844704414
	if got := fc.Yhat[len(fc.Yhat)-1]; math.Abs(got-want) > 1e-9 {
		t.Errorf("last yhat: got %.15g, want %.15g", got, want)
	}
	if got, want := m.LastTimestamp(), time.Date(2020, 1, 20, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("LastTimestamp: got %v, want %v", got, want)
	}
}
