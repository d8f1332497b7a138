// The handlers of /notify/email and /notify/twitter: they read the seed's
// request bodies and hand the work to hub/notify.

package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/notify"
)

// NotifyGrant is the grant key that allows POST /notify/email: a user or
// app needs write on it ({"notify": "write"}); admins have it. "notify"
// names an API path, so no layer can take that name.
const NotifyGrant = "notify"

// emailMessage is the subset of Nodemailer message options the hub sends.
type emailMessage struct {
	From    string          `json:"from"`
	To      json.RawMessage `json:"to"`
	Cc      json.RawMessage `json:"cc"`
	Bcc     json.RawMessage `json:"bcc"`
	ReplyTo json.RawMessage `json:"replyTo"`
	Subject string          `json:"subject"`
	Text    string          `json:"text"`
	HTML    string          `json:"html"`
}

// addresses reads a Nodemailer address field: "a@x, b@y", ["a@x", …] or
// [{name, address}, …] / {name, address}.
func addresses(field string, raw json.RawMessage) ([]*mail.Address, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, httpErrorf(http.StatusBadRequest, "%s: %v", field, err)
	}
	var out []*mail.Address
	var add func(v any) error
	add = func(v any) error {
		switch x := v.(type) {
		case string:
			list, err := mail.ParseAddressList(x)
			if err != nil {
				return httpErrorf(http.StatusBadRequest, "%s: %q: %v", field, x, err)
			}
			out = append(out, list...)
		case map[string]any:
			a, _ := x["address"].(string)
			n, _ := x["name"].(string)
			if _, err := mail.ParseAddress(a); err != nil {
				return httpErrorf(http.StatusBadRequest, "%s: %q: %v", field, a, err)
			}
			out = append(out, &mail.Address{Name: n, Address: a})
		case []any:
			for _, e := range x {
				if err := add(e); err != nil {
					return err
				}
			}
		default:
			return httpErrorf(http.StatusBadRequest, "%s must be an address, a list of addresses or {name, address}", field)
		}
		return nil
	}
	if err := add(v); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) email(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !s.Config.Notify.SMTP.Enabled() {
		return httpErrorf(http.StatusServiceUnavailable, "this hub has no SMTP server configured (notify.smtp.host)")
	}
	if !p.Admin && !p.Can(NotifyGrant, auth.Write) {
		return httpErrorf(http.StatusForbidden, "%s %q may not send e-mail: it needs the grant {%q: \"write\"}", p.Kind, p.ID, NotifyGrant)
	}
	smtpCfg := &s.Config.Notify.SMTP
	var m emailMessage
	if err := readJSON(r, &m); err != nil {
		return err
	}
	from := m.From
	if from == "" {
		from = smtpCfg.From
	}
	if from == "" {
		return httpErrorf(http.StatusBadRequest, "from is required (the hub has no default sender)")
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return httpErrorf(http.StatusBadRequest, "from: %q: %v", from, err)
	}
	if !smtpCfg.SenderAllowed(fromAddr.Address) {
		return httpErrorf(http.StatusForbidden, "from %q is not allowed: messages go out from %q unless notify.smtp.allowFrom lists the sender", fromAddr.Address, smtpCfg.From)
	}
	to, err := addresses("to", m.To)
	if err != nil {
		return err
	}
	cc, err := addresses("cc", m.Cc)
	if err != nil {
		return err
	}
	bcc, err := addresses("bcc", m.Bcc)
	if err != nil {
		return err
	}
	replyTo, err := addresses("replyTo", m.ReplyTo)
	if err != nil {
		return err
	}
	if len(to)+len(cc)+len(bcc) == 0 {
		return httpErrorf(http.StatusBadRequest, "the message has no recipient (to, cc or bcc)")
	}
	if n := len(to) + len(cc) + len(bcc); n > smtpCfg.MaxRecipients {
		return httpErrorf(http.StatusBadRequest, "the message has %d recipients; at most %d (notify.smtp.maxRecipients)", n, smtpCfg.MaxRecipients)
	}
	if m.Text == "" && m.HTML == "" {
		return httpErrorf(http.StatusBadRequest, "the message has no content (text or html)")
	}
	if !s.mailLimiter.allow(p.RateKey()) {
		return &httpError{status: http.StatusTooManyRequests, retryAfter: s.mailLimiter.retryAfter(),
			msg: fmt.Sprintf("e-mail rate limit of %d messages per hour reached; retry later", smtpCfg.PerHour)}
	}
	msg := &notify.Message{From: fromAddr, To: to, Cc: cc, Bcc: bcc, ReplyTo: replyTo, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	if err := s.Config.Notify.SMTP.Send(r.Context(), msg); err != nil {
		return httpErrorf(http.StatusBadGateway, "send email: %v", err)
	}
	s.log().Info("email sent", "by", p.ID, "recipients", len(msg.Recipients()))
	return success(w, "", nil)
}

// twitterData is the seed's TwitterData.
type twitterData struct {
	ConsumerKey       string `json:"consumer_key"`
	ConsumerSecret    string `json:"consumer_secret"`
	AccessTokenKey    string `json:"access_token_key"`
	AccessTokenSecret string `json:"access_token_secret"`
	Status            string `json:"status"`
}

func (s *Server) twitter(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var t twitterData
	if err := readJSON(r, &t); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"consumer_key", t.ConsumerKey}, {"consumer_secret", t.ConsumerSecret},
		{"access_token_key", t.AccessTokenKey}, {"access_token_secret", t.AccessTokenSecret}, {"status", t.Status}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return httpErrorf(http.StatusBadRequest, "missing %s", strings.Join(missing, ", "))
	}
	tw := notify.Twitter{Endpoint: s.Config.Notify.TwitterEndpoint, Client: s.HTTPClient}
	cred := notify.OAuth1Credentials{ConsumerKey: t.ConsumerKey, ConsumerSecret: t.ConsumerSecret,
		Token: t.AccessTokenKey, TokenSecret: t.AccessTokenSecret}
	if err := tw.Post(r.Context(), cred, t.Status); err != nil {
		return httpErrorf(http.StatusBadGateway, "%v", err)
	}
	s.log().Info("tweet posted", "by", p.ID)
	return success(w, "", nil)
}
