package history

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

// tenth is a variable: constant arithmetic would be exact.
var tenth = 0.1

func TestDecimals(t *testing.T) {
	for _, c := range []struct {
		v    float64
		d    int
		want bool
	}{
		{230, 0, true}, {230.4, 1, true}, {-0.05, 2, true}, {0, 0, true}, {3660.17, 2, true}, {1e15, 0, true},
		{0.1234567, 0, false}, {1.0 / 3, 0, false}, {float64(float32(230.4)), 0, false}, {1e17, 0, false},
		{math.NaN(), 0, false}, {math.Inf(1), 0, false}, {tenth + 2*tenth, 0, false},
	} {
		d, ok := decimals(c.v)
		if ok != c.want || (ok && d != c.d) {
			t.Errorf("decimals(%v) = %d, %v; want %d, %v", c.v, d, ok, c.d, c.want)
		}
	}
}

// Values come back exactly as written whatever their scale, a field's
// scale only grows, and values that are no short decimal are stored raw.
func TestScaledValuesRoundTrip(t *testing.T) {
	db := openTest(t, t.TempDir())
	vals := []float64{230, 230.4, 230.45, 1.0 / 3, float64(float32(230.4)), 231, -0.5, 1e15, 2.5e15, 0}
	var samples []Sample
	for i, v := range vals {
		samples = append(samples, sample("M1", "measurements.v", i, v, 1))
	}
	samples = append(samples, sample("M1", "measurements.v", len(vals), 7.25, 0)) // a bad quality is kept
	if _, err := db.Append(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	got := collect(t, db, Query{Layer: "demo", Collection: "meters", From: t0, To: t0.Add(60e9)})["M1 measurements.v"]
	var pts [][]any
	if err := json.Unmarshal([]byte(got), &pts); err != nil {
		t.Fatal(err)
	}
	if len(pts) != len(vals)+1 {
		t.Fatalf("got %d points, want %d: %s", len(pts), len(vals)+1, got)
	}
	for i, v := range vals {
		if pts[i][1] != v || pts[i][2] != 1.0 {
			t.Errorf("point %d: got %v, want %v with quality 1", i, pts[i], v)
		}
	}
	if last := pts[len(vals)]; last[1] != 7.25 || last[2] != 0.0 {
		t.Errorf("bad-quality point: got %v, want [_, 7.25, 0]", last)
	}
	q, err := db.DB().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	scales, _, err := q.LabelValues(context.Background(), LabelScale, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 230 (0), 230.4 (1), 230.45 and the rest (2); 1/3, the float32 and 2.5e15·100 raw
	if want := "[0 1 2]"; fmt.Sprint(scales) != want {
		t.Errorf("scales: got %v, want %s", scales, want)
	}
}

// After a restart a field keeps the scale it had: no new series.
func TestScaleSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenTSDB(TSDBOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(context.Background(), []Sample{sample("M1", "measurements.v", 0, 230.45, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	if _, err := db.Append(context.Background(), []Sample{sample("M1", "measurements.v", 1, 230.4, 1)}); err != nil {
		t.Fatal(err)
	}
	if got := db.scales[seriesKey(MetricValue, &Sample{Layer: "demo", Collection: "meters", ID: "M1", Field: "measurements.v"}, "")]; got != 2 {
		t.Errorf("scale after the restart: got %d, want 2", got)
	}
	q, err := db.DB().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if scales, _, err := q.LabelValues(context.Background(), LabelScale, nil); err != nil || fmt.Sprint(scales) != "[2]" {
		t.Errorf("scales: got %v, %v, want [2]", scales, err)
	}
	if got := collect(t, db, Query{Layer: "demo", Collection: "meters", From: t0, To: t0.Add(time.Minute)})["M1 measurements.v"]; got != `[["2024-05-01T10:00:00.000Z",230.45,1],["2024-05-01T10:00:01.000Z",230.4,1]]` {
		t.Errorf("points: %s", got)
	}
}
