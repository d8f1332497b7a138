package api

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/hub/notify/smtptest"
)

// The senders themselves (SMTP exchange, message encoding, OAuth 1.0a) are
// tested in hub/notify; these tests cover the handlers: request bodies,
// status codes and the wiring to the senders.

func TestNotifyEmail(t *testing.T) {
	smtpd := smtptest.Start(t, "mailer", "mail-secret")
	e := newEnv(t, func(s *Server) {
		s.Config.Notify.SMTP = notify.SMTPConfig{Host: "127.0.0.1", Port: smtpd.Port(), Username: "mailer", Password: "mail-secret", TLS: "none", From: "hub@gridedge.test",
			AllowFrom: []string{"sender@server.com"}}
	})
	user := e.addUser("alice", map[string]Perm{NotifyGrant: PermWrite})
	// The annex's example.
	res := e.must("POST", "/notify/email", map[string]any{"from": "sender@server.com", "to": "receiver@sender.com",
		"subject": "Message title", "text": "Message content"}, user)
	jsonEq(t, "email answer", res, map[string]any{"status": "success"})
	msgs := smtpd.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the SMTP server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "sender@server.com" || strings.Join(m.Rcpt, ",") != "receiver@sender.com" {
		t.Fatalf("envelope: got from %q to %v, want sender@server.com to receiver@sender.com", m.From, m.Rcpt)
	}
	pm, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("parse the message: %v\n%s", err, m.Data)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	body, _ := io.ReadAll(pm.Body)
	if subj != "Message title" || !strings.Contains(string(body), "Message content") || pm.Header.Get("To") != "<receiver@sender.com>" {
		t.Fatalf("message: got subject %q, to %q, body %q", subj, pm.Header.Get("To"), body)
	}

	// Nodemailer address forms, bcc, and the configured default sender.
	e.must("POST", "/notify/email", map[string]any{"to": []any{"a@x.test", map[string]any{"name": "Bé", "address": "b@x.test"}},
		"cc": map[string]any{"address": "cc@x.test"}, "bcc": "c@x.test, d@x.test", "replyTo": []any{"r@x.test"},
		"subject": "Ünïcode", "text": "plain", "html": "<p>rich</p>"}, user)
	m = smtpd.Messages()[1]
	if want := []string{"a@x.test", "b@x.test", "cc@x.test", "c@x.test", "d@x.test"}; !slices.Equal(m.Rcpt, want) || m.From != "hub@gridedge.test" {
		t.Fatalf("envelope: got %q %v, want hub@gridedge.test %v", m.From, m.Rcpt, want)
	}
	pm, _ = mail.ReadMessage(strings.NewReader(m.Data))
	if pm.Header.Get("Bcc") != "" || pm.Header.Get("Reply-To") != "<r@x.test>" {
		t.Fatalf("headers: got Bcc %q Reply-To %q, want none and <r@x.test>", pm.Header.Get("Bcc"), pm.Header.Get("Reply-To"))
	}

	cases := []struct {
		name   string
		body   map[string]any
		who    cred
		status int
		want   string
	}{
		{"no recipient", map[string]any{"subject": "x", "text": "y"}, user, 400, "recipient"},
		{"bad to", map[string]any{"to": "not an address", "text": "y"}, user, 400, "to"},
		{"bad cc object", map[string]any{"cc": map[string]any{"address": "nope"}, "text": "y"}, user, 400, "cc"},
		{"bad bcc type", map[string]any{"bcc": 3, "text": "y"}, user, 400, "bcc"},
		{"bad from", map[string]any{"from": "nope", "to": "a@x.test", "text": "y"}, user, 400, "from"},
		{"no content", map[string]any{"to": "a@x.test"}, user, 400, "content"},
		{"no credentials", map[string]any{"to": "a@x.test", "text": "y"}, noCred, 401, "credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { e.wantError("POST", "/notify/email", c.body, c.who, c.status, c.want) })
	}
	if got := len(smtpd.Messages()); got != 2 {
		t.Fatalf("rejected requests reached the SMTP server: %d messages, want 2", got)
	}

	// Wrong SMTP password: 502 naming the step.
	bad := newEnv(t, func(s *Server) {
		s.Config.Notify.SMTP = notify.SMTPConfig{Host: "127.0.0.1", Port: smtpd.Port(), Username: "mailer", Password: "wrong", TLS: "none", From: "hub@x.test"}
	})
	bad.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, bad.admin, 502, "authenticate")
	// No default sender and none in the message.
	noFrom := newEnv(t, func(s *Server) { s.Config.Notify.SMTP = notify.SMTPConfig{Host: "127.0.0.1", Port: smtpd.Port()} })
	noFrom.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, noFrom.admin, 400, "from is required")
	// No SMTP server configured.
	none := newEnv(t)
	none.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, none.admin, 503, "SMTP")
}

func TestNotifyTwitter(t *testing.T) {
	type got struct{ auth, body, path string }
	var mu sync.Mutex
	var calls []got
	tw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, got{r.Header.Get("Authorization"), string(b), r.URL.Path})
		mu.Unlock()
		if strings.Contains(string(b), "fail") {
			http.Error(w, `{"title":"Forbidden"}`, http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"data":{"id":"1","text":"Hello Twitter"}}`)
	}))
	defer tw.Close()
	e := newEnv(t, func(s *Server) { s.Config.Notify.TwitterEndpoint = tw.URL + "/2/tweets" })
	// The annex's TwitterData example.
	body := map[string]any{"consumer_key": "twitter_consumer_key", "consumer_secret": "twitter_consumer_secret",
		"access_token_key": "twitter_access_token_key", "access_token_secret": "twitter_access_token_secret", "status": "Hello Twitter"}
	res := e.must("POST", "/notify/twitter", body, e.admin)
	jsonEq(t, "twitter answer", res, map[string]any{"status": "success"})
	mu.Lock()
	if len(calls) != 1 || calls[0].path != "/2/tweets" || calls[0].body != `{"text":"Hello Twitter"}` ||
		!strings.Contains(calls[0].auth, `oauth_consumer_key="twitter_consumer_key"`) || !strings.Contains(calls[0].auth, `oauth_token="twitter_access_token_key"`) {
		t.Fatalf("endpoint calls: got %+v, want one signed tweet", calls)
	}
	mu.Unlock()

	delete(body, "status")
	delete(body, "consumer_secret")
	e.wantError("POST", "/notify/twitter", body, e.admin, 400, "consumer_secret, status")
	body["consumer_secret"] = "twitter_consumer_secret"
	body["status"] = "fail please"
	e.wantError("POST", "/notify/twitter", body, e.admin, 502, "403")
	e.wantError("POST", "/notify/twitter", body, noCred, 401, "credentials")
}
