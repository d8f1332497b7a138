package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
)

// SMTPConfig is the mail server of /notify/email.
type SMTPConfig struct {
	// Host is the SMTP server's host name; "" disables /notify/email (503).
	Host string
	// Port is the SMTP port (default 587; 465 implies TLS "implicit").
	Port int
	// Username and Password authenticate (PLAIN); empty: no authentication.
	Username, Password string
	// From is the sender when the message gives none.
	From string
	// TLS is "starttls" (default: use STARTTLS when the server offers it,
	// required when authenticating), "implicit" (TLS from the start) or "none".
	TLS string
	// InsecureSkipVerify accepts any server certificate (tests only).
	InsecureSkipVerify bool
	// Timeout bounds the whole exchange (default 30s).
	Timeout time.Duration
}

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

func joinAddrs(as []*mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func (s *Server) email(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if s.SMTP.Host == "" {
		return httpErrorf(http.StatusServiceUnavailable, "this hub has no SMTP server configured (notify.smtp.host)")
	}
	var m emailMessage
	if err := readJSON(r, &m); err != nil {
		return err
	}
	from := m.From
	if from == "" {
		from = s.SMTP.From
	}
	if from == "" {
		return httpErrorf(http.StatusBadRequest, "from is required (the hub has no default sender)")
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return httpErrorf(http.StatusBadRequest, "from: %q: %v", from, err)
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
	if m.Text == "" && m.HTML == "" {
		return httpErrorf(http.StatusBadRequest, "the message has no content (text or html)")
	}
	msg, err := buildMessage(fromAddr, to, cc, replyTo, m.Subject, m.Text, m.HTML, time.Now())
	if err != nil {
		return err
	}
	var rcpt []string
	for _, a := range slices.Concat(to, cc, bcc) {
		rcpt = append(rcpt, a.Address)
	}
	if err := s.sendMail(r.Context(), fromAddr.Address, rcpt, msg); err != nil {
		return httpErrorf(http.StatusBadGateway, "send email: %v", err)
	}
	s.log().Info("email sent", "by", p.ID, "recipients", len(rcpt))
	return success(w, "", nil)
}

func randomBoundary() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "gridedge-" + hex.EncodeToString(b)
}

// buildMessage writes an RFC 5322 message with a text and/or HTML body,
// quoted-printable, UTF-8.
func buildMessage(from *mail.Address, to, cc, replyTo []*mail.Address, subject, text, html string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from.String())
	if len(to) > 0 {
		h("To", joinAddrs(to))
	}
	if len(cc) > 0 {
		h("Cc", joinAddrs(cc))
	}
	if len(replyTo) > 0 {
		h("Reply-To", joinAddrs(replyTo))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<%s@gridedge>", randomBoundary()))
	h("MIME-Version", "1.0")
	part := func(typ, content string) error {
		fmt.Fprintf(&b, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", typ)
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write([]byte(content)); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
		b.WriteString("\r\n")
		return nil
	}
	switch {
	case text != "" && html != "":
		bd := randomBoundary()
		h("Content-Type", fmt.Sprintf("multipart/alternative; boundary=%q", bd))
		b.WriteString("\r\n")
		for _, p := range [][2]string{{"text/plain", text}, {"text/html", html}} {
			fmt.Fprintf(&b, "--%s\r\n", bd)
			if err := part(p[0], p[1]); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(&b, "--%s--\r\n", bd)
	case html != "":
		if err := part("text/html", html); err != nil {
			return nil, err
		}
	default:
		if err := part("text/plain", text); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// sendMail delivers msg through the configured SMTP server.
func (s *Server) sendMail(ctx context.Context, from string, rcpt []string, msg []byte) error {
	c := s.SMTP
	port := c.Port
	if port == 0 {
		port = 587
	}
	mode := c.TLS
	if mode == "" {
		mode = "starttls"
		if port == 465 {
			mode = "implicit"
		}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(port))
	tlsCfg := &tls.Config{ServerName: c.Host, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in for tests
	var conn net.Conn
	var err error
	d := &net.Dialer{}
	if mode == "implicit" {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer cl.Close()
	if mode == "starttls" {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			if err := cl.StartTLS(tlsCfg); err != nil {
				return fmt.Errorf("smtp %s: STARTTLS: %w", addr, err)
			}
		} else if c.Username != "" {
			return fmt.Errorf("smtp %s: the server does not offer STARTTLS; refusing to send the password in clear (set tls: none to allow)", addr)
		}
	}
	if c.Username != "" {
		if err := cl.Auth(plainAuth{c.Username, c.Password}); err != nil {
			return fmt.Errorf("smtp %s: authenticate: %w", addr, err)
		}
	}
	if err := cl.Mail(from); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", addr, err)
	}
	for _, a := range rcpt {
		if err := cl.Rcpt(a); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", addr, a, err)
		}
	}
	wc, err := cl.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if _, err := wc.Write(msg); err != nil {
		return fmt.Errorf("smtp %s: write message: %w", addr, err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of message: %w", addr, err)
	}
	return cl.Quit()
}

// plainAuth is SMTP AUTH PLAIN. Unlike smtp.PlainAuth it does not insist on
// TLS for non-local hosts itself: sendMail already refuses to send a
// password in clear unless the operator chose tls: none.
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, fmt.Errorf("unexpected server challenge")
	}
	return nil, nil
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
	body, _ := json.Marshal(map[string]string{"text": t.Status})
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, s.TwitterEndpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("twitter endpoint %q: %w", s.TwitterEndpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", oauth1Header(req.Method, s.TwitterEndpoint, t, randomBoundary(), time.Now()))
	res, err := s.HTTPClient.Do(req)
	if err != nil {
		return httpErrorf(http.StatusBadGateway, "post the tweet: %v", err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return httpErrorf(http.StatusBadGateway, "the twitter endpoint answered %s: %s", res.Status, strings.TrimSpace(string(reply)))
	}
	s.log().Info("tweet posted", "by", p.ID)
	return success(w, "", nil)
}

// oauth1Header signs a request with OAuth 1.0a HMAC-SHA1 (RFC 5849). The
// JSON body is not part of the signature, as the X API v2 expects.
func oauth1Header(method, endpoint string, t twitterData, nonce string, now time.Time) string {
	u, _ := url.Parse(endpoint)
	params := map[string]string{
		"oauth_consumer_key":     t.ConsumerKey,
		"oauth_nonce":            nonce,
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(now.Unix(), 10),
		"oauth_token":            t.AccessTokenKey,
		"oauth_version":          "1.0",
	}
	all := map[string][]string{}
	for k, v := range params {
		all[k] = []string{v}
	}
	for k, vs := range u.Query() {
		all[k] = append(all[k], vs...)
	}
	params["oauth_signature"] = oauth1Signature(method, endpoint, all, t.ConsumerSecret, t.AccessTokenSecret)
	var parts []string
	for _, k := range sortedKeys(params) {
		parts = append(parts, fmt.Sprintf(`%s="%s"`, pctEncode(k), pctEncode(params[k])))
	}
	return "OAuth " + strings.Join(parts, ", ")
}

// oauth1Signature computes an OAuth 1.0a HMAC-SHA1 signature over the
// method, the endpoint without its query and the given parameters.
func oauth1Signature(method, endpoint string, params map[string][]string, consumerSecret, tokenSecret string) string {
	u, _ := url.Parse(endpoint)
	base := *u
	base.RawQuery, base.Fragment = "", ""
	var pairs []string
	for _, k := range sortedKeys(params) {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		for _, v := range vs {
			pairs = append(pairs, pctEncode(k)+"="+pctEncode(v))
		}
	}
	sigBase := strings.ToUpper(method) + "&" + pctEncode(base.String()) + "&" + pctEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(pctEncode(consumerSecret)+"&"+pctEncode(tokenSecret)))
	mac.Write([]byte(sigBase))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// pctEncode is RFC 3986 percent-encoding (unreserved characters kept).
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
