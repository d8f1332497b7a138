package notify

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/notify/smtptest"
	"github.com/gridedge/gridedge/shared/config"
)

func addrs(t *testing.T, list string) []*mail.Address {
	t.Helper()
	if list == "" {
		return nil
	}
	as, err := mail.ParseAddressList(list)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestSMTPSend(t *testing.T) {
	srv := smtptest.Start(t, "mailer", "mail-secret")
	t.Setenv("TEST_SMTP_PASSWORD", "mail-secret")
	from := &mail.Address{Address: "hub@gridedge.test"}
	msg := &Message{From: from, To: addrs(t, "a@x.test"), Cc: addrs(t, "b@x.test"), Bcc: addrs(t, "c@x.test, d@x.test"),
		Subject: "Ünïcode", Text: "plain", HTML: "<p>rich</p>"}
	cases := []struct {
		name    string
		cfg     SMTPConfig
		wantErr string // "" = delivered
	}{
		{"password", SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), Username: "mailer", Password: "mail-secret", TLS: TLSNone}, ""},
		{"password from the environment", SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), Username: "mailer", Password: "$TEST_SMTP_PASSWORD", TLS: TLSNone}, ""},
		{"wrong password", SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), Username: "mailer", Password: "wrong", TLS: TLSNone}, "authenticate"},
		{"no authentication", SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), TLS: TLSNone}, "MAIL FROM"},
		// STARTTLS mode refuses to send a password in clear to a server without TLS.
		{"starttls without TLS", SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), Username: "mailer", Password: "mail-secret"}, "STARTTLS"},
		{"implicit TLS to a clear server", SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), TLS: TLSImplicit, Timeout: config.Duration(2 * time.Second)}, "127.0.0.1"},
		{"not configured", SMTPConfig{}, ErrNoSMTP.Error()},
	}
	delivered := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Send(context.Background(), msg)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				delivered++
			} else if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Send: got error %v, want one mentioning %q", err, c.wantErr)
			}
			if got := len(srv.Messages()); got != delivered {
				t.Fatalf("the server holds %d messages, want %d", got, delivered)
			}
		})
	}
	if err := (&SMTPConfig{}).Send(context.Background(), msg); !errors.Is(err, ErrNoSMTP) {
		t.Errorf("Send without host: got %v, want ErrNoSMTP", err)
	}
	m := srv.Messages()[0]
	if m.From != "hub@gridedge.test" {
		t.Errorf("envelope from: got %q, want hub@gridedge.test", m.From)
	}
	if got, want := m.Rcpt, []string{"a@x.test", "b@x.test", "c@x.test", "d@x.test"}; !slices.Equal(got, want) {
		t.Errorf("envelope recipients: got %v, want %v", got, want)
	}
	if got := srv.AuthUsers(); len(got) == 0 || got[0] != "mailer" {
		t.Errorf("AUTH users: got %v, want mailer first", got)
	}
}

func TestMessageBytes(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	from := &mail.Address{Name: "Hub", Address: "hub@x.test"}
	cases := []struct {
		name      string
		msg       Message
		wantType  string   // media type of the message
		wantParts []string // content types of the parts (multipart only)
		wantBody  string   // in the decoded body (single part only)
		wantHdr   map[string]string
	}{
		{"text", Message{From: from, To: addrs(t, "a@x.test"), Subject: "Message title", Text: "Message content"},
			"text/plain", nil, "Message content",
			map[string]string{"To": "<a@x.test>", "From": `"Hub" <hub@x.test>`, "Cc": "", "Bcc": ""}},
		{"html", Message{From: from, Cc: addrs(t, "b@x.test"), ReplyTo: addrs(t, "r@x.test"), HTML: "<p>héllo</p>"},
			"text/html", nil, "<p>héllo</p>",
			map[string]string{"To": "", "Cc": "<b@x.test>", "Reply-To": "<r@x.test>"}},
		{"both, bcc hidden", Message{From: from, To: addrs(t, "a@x.test"), Bcc: addrs(t, "c@x.test"), Subject: "Ünïcode", Text: "plain", HTML: "<p>rich</p>"},
			"multipart/alternative", []string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}, "",
			map[string]string{"Bcc": "", "Subject": "Ünïcode", "Date": now.Format(time.RFC1123Z), "Mime-Version": "1.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.msg.Bytes(now)
			if err != nil {
				t.Fatal(err)
			}
			pm, err := mail.ReadMessage(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("parse the message: %v\n%s", err, b)
			}
			dec := new(mime.WordDecoder)
			for k, want := range c.wantHdr {
				got, _ := dec.DecodeHeader(pm.Header.Get(k))
				if got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			mt, params, err := mime.ParseMediaType(pm.Header.Get("Content-Type"))
			if err != nil || mt != c.wantType {
				t.Fatalf("content type: got %q (%v), want %q", mt, err, c.wantType)
			}
			if c.wantParts == nil {
				body, _ := io.ReadAll(quotedprintable.NewReader(pm.Body))
				if !strings.Contains(string(body), c.wantBody) {
					t.Errorf("body: got %q, want it to contain %q", body, c.wantBody)
				}
				return
			}
			mr := multipart.NewReader(pm.Body, params["boundary"])
			var types []string
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				types = append(types, p.Header.Get("Content-Type"))
			}
			if !slices.Equal(types, c.wantParts) {
				t.Errorf("parts: got %v, want %v", types, c.wantParts)
			}
		})
	}
}

func TestSenderAllowed(t *testing.T) {
	c := SMTPConfig{From: "GridEdge Hub <hub@gridedge.test>", AllowFrom: []string{"alerts@ops.test", "@plant.test"}}
	cases := []struct {
		addr string
		want bool
	}{
		{"hub@gridedge.test", true},
		{"HUB@gridedge.test", true},
		{"alerts@ops.test", true},
		{"anyone@plant.test", true},
		{"ceo@bank.test", false},
		{"other@ops.test", false},
		{"x@evil.plant.test", false},
	}
	for _, tc := range cases {
		if got := c.SenderAllowed(tc.addr); got != tc.want {
			t.Errorf("SenderAllowed(%q): got %v, want %v", tc.addr, got, tc.want)
		}
	}
}
