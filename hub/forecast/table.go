package forecast

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// table is the result of an input stage: rows by ds, numeric columns.
type table struct {
	ds   []time.Time
	cols map[string][]float64
}

func newTable() *table { return &table{cols: map[string][]float64{}} }

// addRow appends a row from a record {ds, column: value…}; values that are
// not numbers are an error naming the row and the column.
func (t *table) addRow(i int, rec map[string]any) error {
	raw, ok := rec["ds"]
	if !ok {
		return fmt.Errorf("%w: row %d has no ds", ErrStage, i)
	}
	ds, err := toTime(raw)
	if err != nil {
		return fmt.Errorf("%w: row %d: ds: %v", ErrStage, i, err)
	}
	n := len(t.ds)
	t.ds = append(t.ds, ds)
	for k, v := range rec {
		if k == "ds" {
			continue
		}
		f, err := toFloat(v)
		if err != nil {
			return fmt.Errorf("%w: row %d: column %q: %v", ErrStage, i, k, err)
		}
		c, ok := t.cols[k]
		if !ok {
			c = make([]float64, n, n+1)
			for j := range c {
				c[j] = math.NaN()
			}
		}
		t.cols[k] = append(c, f)
	}
	for k, c := range t.cols {
		if len(c) == n {
			t.cols[k] = append(c, math.NaN()) // column absent from this row
		}
	}
	return nil
}

// innerJoin keeps the rows of t whose ds every other table has, with the
// other tables' columns added (seed 3.2.2.4.2: results are INNER-JOINed
// with the first stage). A column in two stages is an error.
func innerJoin(tabs []*table) (*table, error) {
	if len(tabs) == 0 {
		return nil, fmt.Errorf("%w: no input stage", ErrInvalid)
	}
	out := tabs[0]
	for si, other := range tabs[1:] {
		idx := make(map[int64]int, len(other.ds))
		for i, ds := range other.ds {
			idx[ds.UnixNano()] = i
		}
		for k := range other.cols {
			if _, dup := out.cols[k]; dup {
				return nil, fmt.Errorf("%w: column %q comes from input stage 1 and stage %d", ErrInvalid, k, si+2)
			}
		}
		next := newTable()
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range out.cols {
				if !yield(k) {
					return
				}
			}
		})
		onames := slices.Sorted(func(yield func(string) bool) {
			for k := range other.cols {
				if !yield(k) {
					return
				}
			}
		})
		for i, ds := range out.ds {
			j, ok := idx[ds.UnixNano()]
			if !ok {
				continue
			}
			next.ds = append(next.ds, ds)
			for _, k := range names {
				next.cols[k] = append(next.cols[k], out.cols[k][i])
			}
			for _, k := range onames {
				next.cols[k] = append(next.cols[k], other.cols[k][j])
			}
		}
		for _, k := range append(names, onames...) {
			if next.cols[k] == nil {
				next.cols[k] = []float64{}
			}
		}
		out = next
	}
	return out, nil
}

// toFloat converts a JSON, BSON or expression value to a number.
func toFloat(v any) (float64, error) {
	switch v := v.(type) {
	case nil:
		return math.NaN(), nil
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case int:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case json.Number:
		return v.Float64()
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case primitive.Decimal128:
		f, err := strconv.ParseFloat(v.String(), 64)
		return f, err
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%T is not a number", v)
}

// timeLayouts are the textual timestamps accepted for ds: ISO 8601 with or
// without zone (UTC assumed), with a T or a space, or a date.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", time.DateOnly}

// toTime converts a ds value: a time, a BSON date, an ISO 8601 string or
// epoch milliseconds (seconds below 1e11).
func toTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v.UTC(), nil
	case primitive.DateTime:
		return v.Time().UTC(), nil
	case string:
		s := strings.TrimSpace(v)
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 timestamp", v)
	}
	f, err := toFloat(v)
	if err != nil || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("%v is not a timestamp", v)
	}
	if math.Abs(f) < 1e11 {
		f *= 1000
	}
	return time.UnixMilli(int64(f)).UTC(), nil
}
