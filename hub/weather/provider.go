package weather

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Provider answers weather queries from an external service.
type Provider interface {
	// Current returns the weather now at q.
	Current(ctx context.Context, q Query) (Current, error)
	// Forecast returns the next hours (1..48) of hourly forecast at q.
	Forecast(ctx context.Context, q Query, hours int) ([]Forecast, error)
}

var (
	_ Provider = (*Weatherbit)(nil)
	_ Provider = (*OpenMeteo)(nil)
)

// maxResponse bounds a provider's response body.
const maxResponse = 8 << 20

// getJSON fetches u and decodes its JSON body into v. A status other than
// 200 is an error carrying errMsg's reading of the body; 204 (weatherbit's
// answer for an unknown place) is ErrNotFound. The URL in errors has its
// key parameter masked.
func getJSON(ctx context.Context, c *http.Client, u *url.URL, v any, errMsg func([]byte) string) error {
	shown := redact(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrProvider, shown, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL would show the key
		}
		return fmt.Errorf("%w: GET %s: %v", ErrProvider, shown, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%w: GET %s: read the body: %v", ErrProvider, shown, err)
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return fmt.Errorf("%w: GET %s: the provider knows no such place", ErrNotFound, shown)
	case resp.StatusCode != http.StatusOK:
		msg := errMsg(body)
		if msg == "" {
			msg = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return fmt.Errorf("%w: GET %s: %s: %s", ErrProvider, shown, resp.Status, msg)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: GET %s: decode the body: %v", ErrProvider, shown, err)
	}
	return nil
}

func redact(u *url.URL) string {
	c := *u
	q := c.Query()
	if q.Has("key") {
		q.Set("key", "REDACTED")
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// joinURL appends path to base (which may carry a path of its own).
func joinURL(base, path string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + path)
	if err != nil {
		return nil, fmt.Errorf("%w: base URL %q: %v", ErrInvalid, base, err)
	}
	return u, nil
}

func ptr(f float64) *float64 { return &f }
