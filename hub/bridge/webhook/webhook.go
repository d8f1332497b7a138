// Package webhook is the Sink of outbound webhook bridges: it POSTs batches
// of change events to another platform's HTTP endpoint and counts a batch
// delivered only on a 2xx answer.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gridedge/gridedge/hub/bridge"
)

// Sender posts events to a URL.
type Sender struct {
	url     string
	headers map[string]string
	client  *http.Client
}

var _ bridge.Sink = (*Sender)(nil)

// New makes the Sender of bridge cfg; client nil uses a client without a
// timeout of its own (each Send has the bridge's timeout).
func New(cfg bridge.Config, client *http.Client) *Sender {
	if client == nil {
		client = &http.Client{}
	}
	h := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		h[k] = bridge.ResolveEnv(v)
	}
	return &Sender{url: bridge.ResolveEnv(cfg.URL), headers: h, client: client}
}

// Send POSTs one request: a JSON array of the events' bodies (the Events,
// or the converter's outputs), with Content-Type application/json and the
// header Idempotency-Key listing the events' keys, comma-separated, in the
// order of the array. Any answer other than 2xx is an error, and the batch
// is sent again (possibly split or joined differently: receivers drop
// duplicates per event key).
func (s *Sender) Send(ctx context.Context, events []bridge.Event) error {
	var body bytes.Buffer
	keys := make([]string, len(events))
	body.WriteByte('[')
	for i := range events {
		b, err := events[i].Body()
		if err != nil {
			return fmt.Errorf("encode event %s: %w", events[i].Key, err)
		}
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(b)
		keys[i] = events[i].Key
	}
	body.WriteByte(']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return fmt.Errorf("make the webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(bridge.HeaderKey, strings.Join(keys, ","))
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %d events: %w", len(events), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post %d events: %s: %s", len(events), resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Close releases idle connections.
func (s *Sender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
