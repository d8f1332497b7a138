package history

import (
	"math"
	"strconv"
)

// Numbers are stored as integers when they are exact decimals: a reading
// of 230.4 (a register times a factor of 0.1, or a value typed in) is
// stored as 2304 in a value series labelled scale="1". XOR chunks keep an
// integer-valued float in a few bits where the float 230.4 (whose binary
// fraction never ends) takes 30 or more: realistic measurements take ~0.7
// instead of ~3.1 bytes per reading (BenchmarkBytesPerReading). Values
// that are no short decimal (a float32 register, 1/3) are stored as they
// are, in the series without a scale label. A field's scale only grows
// (230 then 230.4 then 230.45 moves it to a new series of scale 2); a
// reader merges a field's value series by time.

// maxScale is the most decimal digits a value is stored with as an integer.
const maxScale = 6

var pow10 = [maxScale + 1]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}

// maxExact is the largest integer a float64 holds exactly.
const maxExact = 1 << 53

// decimals returns the fewest decimal digits (at most maxScale) that write
// v exactly, or false.
func decimals(v float64) (int, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	for d := 0; d <= maxScale; d++ {
		if _, ok := scaleTo(v, d); ok {
			return d, true
		}
	}
	return 0, false
}

// scaleTo returns v·10^d as an integer-valued float when that is exact.
func scaleTo(v float64, d int) (float64, bool) {
	x := math.Round(v * pow10[d])
	if math.Abs(x) >= maxExact || x/pow10[d] != v {
		return 0, false
	}
	return x, true
}

// scaler remembers the scale of each field's value series (by the key of
// its unscaled series).
type scaler map[string]int

// encode returns the scale label ("" when v is stored as it is) and the
// number to store for v in the field keyed k.
func (sc scaler) encode(k string, v float64) (string, float64) {
	d, ok := decimals(v)
	if !ok {
		return "", v
	}
	if cur, known := sc[k]; known && cur > d {
		if x, ok := scaleTo(v, cur); ok {
			return strconv.Itoa(cur), x
		}
		return "", v // too large at the field's scale
	}
	sc[k] = d
	x, _ := scaleTo(v, d)
	return strconv.Itoa(d), x
}

// divisor is the factor a stored value of a series with scale label s is
// divided by (1 for no label).
func divisor(s string) float64 {
	if d, err := strconv.Atoi(s); err == nil && d >= 0 && d <= maxScale {
		return pow10[d]
	}
	return 1
}
