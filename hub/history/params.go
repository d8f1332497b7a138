package history

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseStep reads a step: a Go duration ("15m", "1h") or a number of days
// ("1d").
func ParseStep(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, errorf(ErrInvalid, "step %q: want e.g. 1m, 15m, 1h or 1d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errorf(ErrInvalid, "step %q: want e.g. 1m, 15m, 1h or 1d", s)
	}
	return d, nil
}

// ParseTime reads from/to: RFC 3339, a date (2024-05-01), or milliseconds
// since 1970 ("" is the zero time).
func ParseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, errorf(ErrInvalid, "%s=%q: want an RFC 3339 date-time such as 2024-05-01T10:00:00Z, a date, or milliseconds", name, v)
}

// QueryFromValues reads the history parameters shared by REST and NATS:
// fields (comma-separated), from, to (default: the last 24 hours up to
// now), step, agg and limit.
func QueryFromValues(layer, collection string, v url.Values, now time.Time) (Query, error) {
	q := Query{Layer: layer, Collection: collection}
	for _, f := range strings.Split(v.Get("fields"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			q.Fields = append(q.Fields, f)
		}
	}
	var err error
	if q.From, err = ParseTime("from", v.Get("from")); err != nil {
		return q, err
	}
	if q.To, err = ParseTime("to", v.Get("to")); err != nil {
		return q, err
	}
	if q.To.IsZero() {
		q.To = now.UTC()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if q.Step, err = ParseStep(v.Get("step")); err != nil {
		return q, err
	}
	if q.Agg, err = ParseAgg(v.Get("agg")); err != nil {
		return q, err
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 0 {
			return q, errorf(ErrInvalid, "limit=%q: want a number of points per series", l)
		}
	}
	return q, CheckQuery(&q)
}
