package forecast

import (
	"errors"
	"testing"
	"time"
)

func TestFreqDates(t *testing.T) {
	d := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		freq string
		last string
		want []string
	}{
		{"H", "2020-05-22T10:00:00Z", []string{"2020-05-22T11:00:00Z", "2020-05-22T12:00:00Z"}},
		{"15min", "2020-05-22T10:00:00Z", []string{"2020-05-22T10:15:00Z", "2020-05-22T10:30:00Z"}},
		{"30T", "2020-05-22T10:00:00Z", []string{"2020-05-22T10:30:00Z", "2020-05-22T11:00:00Z"}},
		{"D", "2020-02-28T00:00:00Z", []string{"2020-02-29T00:00:00Z", "2020-03-01T00:00:00Z"}},
		{"W", "2020-05-20T00:00:00Z", []string{"2020-05-24T00:00:00Z", "2020-05-31T00:00:00Z"}}, // W-SUN
		{"M", "2020-01-31T00:00:00Z", []string{"2020-02-29T00:00:00Z", "2020-03-31T00:00:00Z"}},
		{"M", "2020-01-15T00:00:00Z", []string{"2020-01-31T00:00:00Z", "2020-02-29T00:00:00Z"}},
		{"MS", "2020-01-01T00:00:00Z", []string{"2020-02-01T00:00:00Z", "2020-03-01T00:00:00Z"}},
		{"YS", "2020-01-01T00:00:00Z", []string{"2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"}},
	}
	for _, tc := range tests {
		f, err := ParseFreq(tc.freq)
		if err != nil {
			t.Errorf("%s: %v", tc.freq, err)
			continue
		}
		got := f.Dates(d(tc.last), len(tc.want))
		for i, w := range tc.want {
			if !got[i].Equal(d(w)) {
				t.Errorf("%s after %s, step %d: got %s, want %s", tc.freq, tc.last, i+1, got[i].Format(time.RFC3339), w)
			}
		}
	}
	for _, bad := range []string{"", "X", "0H", "H2"} {
		if _, err := ParseFreq(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFreq(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}
