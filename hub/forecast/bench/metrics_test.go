package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSeedCoverage averages the band coverage over the seeds of bands.csv
// and refuses a file whose rows do not match seeds × rows.
func TestSeedCoverage(t *testing.T) {
	y := []float64{1, 2, 3}
	tests := []struct {
		name    string
		bands   string
		seeds   int
		want    float64
		wantErr bool
	}{
		{"one seed, all in", "seed,yhat_lower,yhat_upper\n1,0,2\n1,1,3\n1,2,4\n", 1, 1, false},
		// seed 1: 2 of 3 inside (bounds inclusive), seed 2: 1 of 3.
		{"two seeds", "seed,yhat_lower,yhat_upper\n1,1,1\n1,0,1\n1,3,5\n2,2,3\n2,2,2\n2,4,5\n", 2, 0.5, false},
		{"rows missing", "seed,yhat_lower,yhat_upper\n1,0,2\n1,1,3\n", 1, 0, true},
		{"not a number", "seed,yhat_lower,yhat_upper\n1,a,2\n1,1,3\n1,2,4\n", 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bands.csv")
			if err := os.WriteFile(path, []byte(tc.bands), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := seedCoverage(path, y, tc.seeds)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tc.wantErr)
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("coverage: got %v, want %v", got, tc.want)
			}
		})
	}
}
