package incidents

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/hub/store"
)

// Headers of a webhook notification.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// subscription's secret, of "<timestamp>.<body>".
	HeaderSignature = "X-GridEdge-Signature"
	// HeaderTimestamp is the Unix time of the call in seconds, part of the
	// signed text so that a captured call cannot be replayed later.
	HeaderTimestamp = "X-GridEdge-Timestamp"
	// HeaderEvent is "incident".
	HeaderEvent = "X-GridEdge-Event"
)

// matches reports whether the subscription wants incident doc.
func (s *Subscription) matches(doc store.Document) bool {
	typ, _ := doc["type"].(string)
	details, _ := doc["details"].(map[string]any)
	layer, _ := details["layer"].(string)
	return globs(s.Types, typ) && globs(s.Layers, layer)
}

func globs(list []string, s string) bool {
	if len(list) == 0 {
		return true
	}
	if s == "" {
		return false
	}
	for _, g := range list {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// target is the audit name of the subscription's notifications.
func (s *Subscription) target() string {
	if s.Email != nil {
		return "email:" + s.ID
	}
	return "webhook:" + s.ID
}

// Sign returns the value of HeaderSignature for body sent at ts with
// secret; receivers compute it the same way and compare in constant time.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// secretValue reads "$NAME" from the environment.
func secretValue(s string) string {
	if name, ok := strings.CutPrefix(s, "$"); ok {
		return os.Getenv(name)
	}
	return s
}

// webhookBody is what a webhook receives.
type webhookBody struct {
	Event      string         `json:"event"`
	Layer      string         `json:"layer"`
	Collection string         `json:"collection"`
	ID         any            `json:"id"`
	Incident   store.Document `json:"incident"`
}

// post sends the webhook notification of doc.
func (w *WebhookTarget) post(ctx context.Context, c *http.Client, layer, col string, doc store.Document, key string, now time.Time) (int, error) {
	body, err := json.Marshal(webhookBody{Event: "incident", Layer: layer, Collection: col, ID: doc[store.FieldID], Incident: doc})
	if err != nil {
		return 0, fmt.Errorf("encode the incident: %w", err)
	}
	secret := secretValue(w.Secret)
	if secret == "" {
		return 0, fmt.Errorf("webhook secret %s is empty", w.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("make the request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEvent, "incident")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	req.Header.Set(HeaderIdempotencyKey, key)
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	return do(c, req)
}

// send e-mails the incident through smtp.
func (e *EmailTarget) send(ctx context.Context, smtp *notify.SMTPConfig, doc store.Document, key string) error {
	if smtp == nil || !smtp.Enabled() {
		return notify.ErrNoSMTP
	}
	from, err := mail.ParseAddress(smtp.From)
	if err != nil {
		return fmt.Errorf("notify.smtp.from %q: %w", smtp.From, err)
	}
	m := &notify.Message{From: from}
	for _, a := range e.To {
		to, err := mail.ParseAddress(a)
		if err != nil {
			return fmt.Errorf("recipient %q: %w", a, err)
		}
		m.To = append(m.To, to)
	}
	typ, _ := doc["type"].(string)
	desc, _ := doc["description"].(string)
	prefix := e.Subject
	if prefix == "" {
		prefix = "[GridEdge]"
	}
	m.Subject = strings.TrimSpace(fmt.Sprintf("%s %s: %s", prefix, typ, firstLine(desc)))
	pretty, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the incident: %w", err)
	}
	m.Text = fmt.Sprintf("%s\n\nIncident %s (%s):\n\n%s\n", desc, key, typ, pretty)
	return smtp.Send(ctx, m)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
