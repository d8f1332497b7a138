package forecast

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Freq is a pandas-style frequency alias of FORECAST_PARAMS.freq: a
// multiple and a unit ("15min", "H", "2D", "W", "M", "MS").
type Freq struct {
	n    int
	unit string // s, min, h, D, W, M (month end), MS (month start), Y (year end), YS
}

// ParseFreq reads a pandas alias: S/s (seconds), T/min, H/h, D, W (weeks
// ending on Sunday, W-SUN), M/ME (month end), MS (month start), A/Y/YE
// (year end), AS/YS (year start), with an optional leading multiple.
func ParseFreq(s string) (Freq, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n := 1
	if i > 0 {
		v, err := strconv.Atoi(s[:i])
		if err != nil || v <= 0 {
			return Freq{}, fmt.Errorf("%w: freq %q", ErrInvalid, s)
		}
		n = v
	}
	var unit string
	switch s[i:] {
	case "S", "s":
		unit = "s"
	case "T", "min":
		unit = "min"
	case "H", "h":
		unit = "h"
	case "D", "d":
		unit = "D"
	case "W", "W-SUN":
		unit = "W"
	case "M", "ME":
		unit = "M"
	case "MS":
		unit = "MS"
	case "A", "Y", "YE", "A-DEC", "Y-DEC":
		unit = "Y"
	case "AS", "YS":
		unit = "YS"
	default:
		return Freq{}, fmt.Errorf("%w: freq %q (want a pandas alias such as 15min, H, D, W, M, MS)", ErrInvalid, s)
	}
	return Freq{n: n, unit: unit}, nil
}

// String returns the alias.
func (f Freq) String() string { return strconv.Itoa(f.n) + f.unit }

// next returns the first timestamp of the frequency after t, as
// pd.date_range(start=t, freq=f) continues: fixed steps for seconds to
// weeks (weeks anchored on Sunday), calendar ends or starts for months and
// years.
func (f Freq) next(t time.Time) time.Time {
	switch f.unit {
	case "s":
		return t.Add(time.Duration(f.n) * time.Second)
	case "min":
		return t.Add(time.Duration(f.n) * time.Minute)
	case "h":
		return t.Add(time.Duration(f.n) * time.Hour)
	case "D":
		return t.AddDate(0, 0, f.n)
	case "W":
		days := (7 - int(t.Weekday())) % 7
		if days == 0 {
			days = 7
		}
		return t.AddDate(0, 0, days+7*(f.n-1))
	case "M":
		// Last day of the month: if t is one already, the n-th next one.
		y, m, _ := t.Date()
		end := time.Date(y, m+1, 0, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		if end.After(t) {
			return end // rolled forward onto the offset, as pandas does
		}
		return time.Date(y, m+1+time.Month(f.n), 0, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	case "MS":
		y, m, _ := t.Date()
		return time.Date(y, m+time.Month(f.n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	case "Y":
		y := t.Year()
		end := time.Date(y, 12, 31, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		if end.After(t) {
			return end
		}
		return end.AddDate(f.n, 0, 0)
	default: // YS
		return time.Date(t.Year()+f.n, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	}
}

// Dates returns the periods timestamps after last (Prophet's
// make_future_dataframe without the history).
func (f Freq) Dates(last time.Time, periods int) []time.Time {
	out := make([]time.Time, 0, periods)
	t := last
	for range periods {
		t = f.next(t)
		out = append(out, t)
	}
	return out
}
