package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// TLS modes of SMTPConfig.
const (
	// TLSStartTLS upgrades the connection when the server offers STARTTLS,
	// and requires it when a password is sent.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the start (port 465).
	TLSImplicit = "implicit"
	// TLSNone never uses TLS.
	TLSNone = "none"
)

// SMTPConfig is the mail server of POST /api/v2/notify/email.
type SMTPConfig struct {
	// Host is the server; empty disables /notify/email (503).
	Host string `json:"host,omitempty"`
	// Port is the server port (default 587; 465 implies tls "implicit").
	Port int `json:"port,omitempty"`
	// Username authenticates with AUTH PLAIN (optional).
	Username string `json:"username,omitempty"`
	// Password goes with Username; "$ENV_NAME" reads it from the environment
	// when a message is sent.
	Password string `json:"password,omitempty"`
	// From is the sender of every message, unless a message gives one
	// that AllowFrom lists.
	From string `json:"from,omitempty"`
	// AllowFrom lists the other senders a message may give: addresses
	// ("alerts@example.org") or whole domains ("@example.org"). Default
	// none: every message goes out from From.
	AllowFrom []string `json:"allowFrom,omitempty"`
	// MaxRecipients caps To, Cc and Bcc of one message together (default 10).
	MaxRecipients int `json:"maxRecipients,omitempty"`
	// PerHour caps the messages each user or app may send per hour
	// (default 30).
	PerHour int `json:"perHour,omitempty"`
	// TLS is starttls (default), implicit (port 465) or none.
	TLS string `json:"tls,omitempty"`
	// Timeout bounds one delivery (default 30s).
	Timeout config.Duration `json:"timeout,omitempty"`
	// InsecureSkipVerify accepts any server certificate (tests only; not
	// settable from a config file).
	InsecureSkipVerify bool `json:"-"`
}

// SenderAllowed reports whether a message may go out from addr: the
// configured From, or an address or domain AllowFrom lists (compared
// without regard to case).
func (c *SMTPConfig) SenderAllowed(addr string) bool {
	if strings.EqualFold(addr, c.From) {
		return true
	}
	if a, err := mail.ParseAddress(c.From); err == nil && strings.EqualFold(addr, a.Address) {
		return true
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, allowed := range c.AllowFrom {
		if strings.EqualFold(addr, allowed) || strings.HasPrefix(allowed, "@") && strings.EqualFold("@"+domain, allowed) {
			return true
		}
	}
	return false
}

// Enabled reports whether a server is configured.
func (c *SMTPConfig) Enabled() bool { return c.Host != "" }

// Message is an e-mail.
type Message struct {
	// From is the sender (header and envelope).
	From *mail.Address
	// To, Cc and Bcc are the recipients; Bcc is not written in the headers.
	To, Cc, Bcc []*mail.Address
	// ReplyTo is where replies go (optional).
	ReplyTo []*mail.Address
	// Subject is the subject line (any UTF-8).
	Subject string
	// Text and HTML are the bodies; with both, the message is
	// multipart/alternative.
	Text, HTML string
}

// Recipients returns the envelope recipients: To, Cc and Bcc.
func (m *Message) Recipients() []string {
	var rcpt []string
	for _, a := range slices.Concat(m.To, m.Cc, m.Bcc) {
		rcpt = append(rcpt, a.Address)
	}
	return rcpt
}

// Bytes writes the message in RFC 5322 form, bodies quoted-printable in
// UTF-8, dated now.
func (m *Message) Bytes(now time.Time) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.From.String())
	if len(m.To) > 0 {
		h("To", joinAddrs(m.To))
	}
	if len(m.Cc) > 0 {
		h("Cc", joinAddrs(m.Cc))
	}
	if len(m.ReplyTo) > 0 {
		h("Reply-To", joinAddrs(m.ReplyTo))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<gridedge-%s@gridedge>", randomToken()))
	h("MIME-Version", "1.0")
	part := func(typ, content string) error {
		fmt.Fprintf(&b, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", typ)
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write([]byte(content)); err != nil {
			return fmt.Errorf("encode the %s body: %w", typ, err)
		}
		if err := qp.Close(); err != nil {
			return fmt.Errorf("encode the %s body: %w", typ, err)
		}
		b.WriteString("\r\n")
		return nil
	}
	switch {
	case m.Text != "" && m.HTML != "":
		bd := "gridedge-" + randomToken()
		h("Content-Type", fmt.Sprintf("multipart/alternative; boundary=%q", bd))
		b.WriteString("\r\n")
		for _, p := range [][2]string{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			fmt.Fprintf(&b, "--%s\r\n", bd)
			if err := part(p[0], p[1]); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(&b, "--%s--\r\n", bd)
	case m.HTML != "":
		if err := part("text/html", m.HTML); err != nil {
			return nil, err
		}
	default:
		if err := part("text/plain", m.Text); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func joinAddrs(as []*mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// Send delivers m through the configured server. It returns ErrNoSMTP when
// no host is configured; other errors name the SMTP step that failed.
func (c *SMTPConfig) Send(ctx context.Context, m *Message) error {
	if !c.Enabled() {
		return ErrNoSMTP
	}
	msg, err := m.Bytes(time.Now())
	if err != nil {
		return err
	}
	return c.deliver(ctx, m.From.Address, m.Recipients(), msg)
}

// deliver runs one SMTP exchange: connect, (STARTTLS), (AUTH), MAIL, RCPT, DATA, QUIT.
func (c *SMTPConfig) deliver(ctx context.Context, from string, rcpt []string, msg []byte) error {
	port := c.Port
	if port == 0 {
		port = 587
	}
	mode := c.TLS
	if mode == "" {
		mode = TLSStartTLS
		if port == 465 {
			mode = TLSImplicit
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout.Or(30*time.Second))
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(port))
	tlsCfg := &tls.Config{ServerName: c.Host, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in for tests
	var conn net.Conn
	var err error
	d := &net.Dialer{}
	if mode == TLSImplicit {
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
	if mode == TLSStartTLS {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			if err := cl.StartTLS(tlsCfg); err != nil {
				return fmt.Errorf("smtp %s: STARTTLS: %w", addr, err)
			}
		} else if c.Username != "" {
			return fmt.Errorf("smtp %s: the server does not offer STARTTLS; refusing to send the password in clear (set tls: none to allow)", addr)
		}
	}
	if c.Username != "" {
		if err := cl.Auth(plainAuth{c.Username, secret(c.Password)}); err != nil {
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
	if err := cl.Quit(); err != nil {
		return fmt.Errorf("smtp %s: QUIT: %w", addr, err)
	}
	return nil
}

// plainAuth is SMTP AUTH PLAIN. Unlike smtp.PlainAuth it does not insist on
// TLS for non-local hosts itself: deliver already refuses to send a
// password in clear unless the operator chose tls: none.
type plainAuth struct{ user, pass string }

var _ smtp.Auth = plainAuth{}

// Start begins AUTH PLAIN with the initial response.
func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

// Next refuses any further challenge: PLAIN has none.
func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, fmt.Errorf("unexpected server challenge")
	}
	return nil, nil
}
