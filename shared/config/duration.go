package config

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Duration is a time.Duration that decodes from a Go duration string
// ("500ms", "10s", "2h30m") or a number of seconds.
type Duration time.Duration

// UnmarshalJSON accepts "10s" or 10.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a duration like \"10s\" or a number of seconds: %w", err)
	}
	switch t := v.(type) {
	case float64:
		if t < 0 {
			return fmt.Errorf("duration %v is negative", t)
		}
		// beyond ~292 years the nanoseconds overflow into a negative duration
		if t >= float64(math.MaxInt64)/float64(time.Second) {
			return fmt.Errorf("duration %v seconds is too long", t)
		}
		*d = Duration(t * float64(time.Second))
	case string:
		x, err := time.ParseDuration(t)
		if err != nil {
			return fmt.Errorf("want a duration like \"10s\", \"500ms\" or \"2h\", got %q", t)
		}
		if x < 0 {
			return fmt.Errorf("duration %q is negative", t)
		}
		*d = Duration(x)
	default:
		return fmt.Errorf("want a duration like \"10s\" or a number of seconds, got %s", describe(v))
	}
	return nil
}

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
