package api

import (
	"bufio"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a small SMTP server (RFC 5321 subset: EHLO, AUTH PLAIN,
// MAIL, RCPT, DATA, RSET, NOOP, QUIT) that records what it receives.
type smtpServer struct {
	ln       net.Listener
	user     string
	password string
	wg       sync.WaitGroup

	mu   sync.Mutex
	msgs []smtpMessage
	auth []string
}

type smtpMessage struct {
	from string
	rcpt []string
	data string
}

func startSMTP(t *testing.T, user, password string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, user: user, password: password}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { io.WriteString(c, line+"\r\n") }
	say("220 test.local ESMTP ready")
	var cur smtpMessage
	authed := s.user == ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			say("250-test.local")
			say("250-8BITMIME")
			say("250 AUTH PLAIN")
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			dec, err := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(dec), "\x00")
			if strings.ToUpper(mech) != "PLAIN" || err != nil || len(parts) != 3 {
				say("501 bad AUTH")
				continue
			}
			s.mu.Lock()
			s.auth = append(s.auth, parts[1])
			s.mu.Unlock()
			if parts[1] == s.user && parts[2] == s.password {
				authed = true
				say("235 2.7.0 Authentication successful")
			} else {
				say("535 5.7.8 Authentication credentials invalid")
			}
		case "MAIL":
			if !authed {
				say("530 5.7.0 Authentication required")
				continue
			}
			from, _, _ := strings.Cut(arg[len("FROM:"):], " ") // drop BODY=8BITMIME etc.
			cur = smtpMessage{from: strings.Trim(from, "<>")}
			say("250 OK")
		case "RCPT":
			cur.rcpt = append(cur.rcpt, strings.Trim(arg[len("TO:"):], "<>"))
			say("250 OK")
		case "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			say("250 OK queued")
		case "RSET", "NOOP":
			say("250 OK")
		case "QUIT":
			say("221 Bye")
			return
		default:
			say("502 command not implemented")
		}
	}
}

func (s *smtpServer) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

func TestNotifyEmail(t *testing.T) {
	smtpd := startSMTP(t, "mailer", "mail-secret")
	e := newEnv(t, func(s *Server) {
		s.SMTP = SMTPConfig{Host: "127.0.0.1", Port: smtpd.port(), Username: "mailer", Password: "mail-secret", TLS: "none", From: "hub@gridedge.test"}
	})
	user := e.addUser("alice", nil)
	// The annex's example.
	res := e.must("POST", "/notify/email", map[string]any{"from": "sender@server.com", "to": "receiver@sender.com",
		"subject": "Message title", "text": "Message content"}, user)
	jsonEq(t, "email answer", res, map[string]any{"status": "success"})
	msgs := smtpd.messages()
	if len(msgs) != 1 {
		t.Fatalf("the SMTP server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.from != "sender@server.com" || strings.Join(m.rcpt, ",") != "receiver@sender.com" {
		t.Fatalf("envelope from %q to %v", m.from, m.rcpt)
	}
	pm, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatalf("parse the message: %v\n%s", err, m.data)
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(pm.Header.Get("Subject"))
	body, _ := io.ReadAll(pm.Body)
	if subj != "Message title" || !strings.Contains(string(body), "Message content") || pm.Header.Get("To") != "<receiver@sender.com>" {
		t.Fatalf("message: subject %q, to %q, body %q", subj, pm.Header.Get("To"), body)
	}

	// Nodemailer address forms, bcc, and text + html.
	e.must("POST", "/notify/email", map[string]any{"to": []any{"a@x.test", map[string]any{"name": "Bé", "address": "b@x.test"}},
		"bcc": "c@x.test, d@x.test", "subject": "Ünïcode", "text": "plain", "html": "<p>rich</p>"}, user)
	m = smtpd.messages()[1]
	if strings.Join(m.rcpt, ",") != "a@x.test,b@x.test,c@x.test,d@x.test" || m.from != "hub@gridedge.test" {
		t.Fatalf("envelope %q %v", m.from, m.rcpt)
	}
	pm, _ = mail.ReadMessage(strings.NewReader(m.data))
	if pm.Header.Get("Bcc") != "" {
		t.Fatal("the Bcc header must not be sent")
	}
	mt, params, _ := mime.ParseMediaType(pm.Header.Get("Content-Type"))
	if mt != "multipart/alternative" {
		t.Fatalf("content type %q", mt)
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
	if len(types) != 2 {
		t.Fatalf("parts %v", types)
	}

	e.wantError("POST", "/notify/email", map[string]any{"subject": "x", "text": "y"}, user, 400, "recipient")
	e.wantError("POST", "/notify/email", map[string]any{"to": "not an address", "text": "y"}, user, 400, "to")
	e.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, noCred, 401, "credentials")

	// Wrong SMTP password: 502 naming the step.
	bad := newEnv(t, func(s *Server) {
		s.SMTP = SMTPConfig{Host: "127.0.0.1", Port: smtpd.port(), Username: "mailer", Password: "wrong", TLS: "none", From: "hub@x.test"}
	})
	bad.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, bad.admin, 502, "authenticate")
	// STARTTLS mode refuses to send a password in clear to a server without TLS.
	clear := newEnv(t, func(s *Server) {
		s.SMTP = SMTPConfig{Host: "127.0.0.1", Port: smtpd.port(), Username: "mailer", Password: "mail-secret", From: "hub@x.test"}
	})
	clear.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, clear.admin, 502, "STARTTLS")
	// No SMTP server configured.
	none := newEnv(t)
	none.wantError("POST", "/notify/email", map[string]any{"to": "a@x.test", "text": "y"}, none.admin, 503, "SMTP")
}

func TestNotifyTwitter(t *testing.T) {
	type got struct {
		auth, body, path string
	}
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
	e := newEnv(t, func(s *Server) { s.TwitterEndpoint = tw.URL + "/2/tweets" })
	// The annex's TwitterData example.
	body := map[string]any{"consumer_key": "twitter_consumer_key", "consumer_secret": "twitter_consumer_secret",
		"access_token_key": "twitter_access_token_key", "access_token_secret": "twitter_access_token_secret", "status": "Hello Twitter"}
	res := e.must("POST", "/notify/twitter", body, e.admin)
	jsonEq(t, "twitter answer", res, map[string]any{"status": "success"})
	if len(calls) != 1 || calls[0].path != "/2/tweets" || calls[0].body != `{"text":"Hello Twitter"}` {
		t.Fatalf("endpoint calls %+v", calls)
	}
	// Check the OAuth 1.0a signature as the endpoint would.
	params := parseOAuth(t, calls[0].auth)
	if params["oauth_consumer_key"] != "twitter_consumer_key" || params["oauth_token"] != "twitter_access_token_key" {
		t.Fatalf("oauth params %v", params)
	}
	sig := params["oauth_signature"]
	delete(params, "oauth_signature")
	all := map[string][]string{}
	for k, v := range params {
		all[k] = []string{v}
	}
	want := oauth1Signature("POST", tw.URL+"/2/tweets", all, "twitter_consumer_secret", "twitter_access_token_secret")
	if sig != want {
		t.Fatalf("signature %q, want %q", sig, want)
	}
	if ts, _ := strconv.ParseInt(params["oauth_timestamp"], 10, 64); time.Since(time.Unix(ts, 0)) > time.Minute {
		t.Fatalf("timestamp %v", params["oauth_timestamp"])
	}

	delete(body, "status")
	e.wantError("POST", "/notify/twitter", body, e.admin, 400, "status")
	body["status"] = "fail please"
	e.wantError("POST", "/notify/twitter", body, e.admin, 502, "403")
}

// TestOAuth1Vector checks the signature against Twitter's documented
// example ("Creating a signature").
func TestOAuth1Vector(t *testing.T) {
	tw := map[string][]string{
		"status":                 {"Hello Ladies + Gentlemen, a signed OAuth request!"},
		"include_entities":       {"true"},
		"oauth_consumer_key":     {"xvz1evFS4wEEPTGEFPHBog"},
		"oauth_nonce":            {"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"1318622958"},
		"oauth_token":            {"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"},
		"oauth_version":          {"1.0"},
	}
	got := oauth1Signature("POST", "https://api.twitter.com/1.1/statuses/update.json", tw,
		"kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
	if want := "hCtSmYh+iHYCEqBWrE7C7hYmtUk="; got != want {
		t.Fatalf("twitter example signature %q, want %q", got, want)
	}
}

func parseOAuth(t *testing.T, h string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		t.Fatalf("Authorization %q", h)
	}
	out := map[string]string{}
	for _, kv := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(kv, "=")
		v, _ = url.PathUnescape(strings.Trim(v, `"`))
		out[k] = v
	}
	return out
}
