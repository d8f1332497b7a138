package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Twitter posts tweets to an X API v2 "create tweet" endpoint with the
// caller's OAuth 1.0a credentials.
type Twitter struct {
	// Endpoint is the URL tweets are posted to (default DefaultTwitterEndpoint).
	Endpoint string
	// Client makes the request (default: a client with a 30s timeout).
	Client *http.Client
}

// EndpointError is returned by Twitter.Post when the endpoint answers with
// a status other than 2xx.
type EndpointError struct {
	// Status is the HTTP status line ("403 Forbidden").
	Status string
	// Body is the start of the endpoint's answer.
	Body string
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("the twitter endpoint answered %s: %s", e.Status, e.Body)
}

// Post publishes status as a tweet of the user whose credentials are c.
func (t *Twitter) Post(ctx context.Context, c OAuth1Credentials, status string) error {
	endpoint := t.Endpoint
	if endpoint == "" {
		endpoint = DefaultTwitterEndpoint
	}
	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	body, err := json.Marshal(map[string]string{"text": status})
	if err != nil {
		return fmt.Errorf("encode the tweet: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("twitter endpoint %q: %w", endpoint, err)
	}
	authz, err := OAuth1Header(req.Method, endpoint, c, randomToken(), time.Now())
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authz)
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post the tweet: %w", err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return &EndpointError{Status: res.Status, Body: strings.TrimSpace(string(reply))}
	}
	return nil
}
