// Package smtptest runs a small in-process SMTP server for tests of code
// that sends e-mail, as net/http/httptest does for HTTP. It speaks a subset
// of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and
// records what it receives.
package smtptest

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running test SMTP server.
type Server struct {
	ln       net.Listener
	user     string
	password string
	wg       sync.WaitGroup

	mu    sync.Mutex
	msgs  []Message
	users []string
}

// Message is one message the server accepted.
type Message struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// Rcpt are the envelope recipients (RCPT TO).
	Rcpt []string
	// Data is the message as sent after DATA, dot-unstuffed.
	Data string
}

// Start starts a server on 127.0.0.1 that requires AUTH PLAIN with user
// and password before MAIL (user "" accepts mail without authentication).
// It stops when the test ends.
func Start(t testing.TB, user, password string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, user: user, password: password}
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

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// AuthUsers returns the user names of every AUTH attempt so far.
func (s *Server) AuthUsers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = io.WriteString(c, line+"\r\n") }
	say("220 test.local ESMTP ready")
	var cur Message
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
			s.users = append(s.users, parts[1])
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
			from, _, _ := strings.Cut(cutPrefixFold(arg, "FROM:"), " ") // drop BODY=8BITMIME etc.
			cur = Message{From: strings.Trim(from, "<>")}
			say("250 OK")
		case "RCPT":
			cur.Rcpt = append(cur.Rcpt, strings.Trim(cutPrefixFold(arg, "TO:"), "<>"))
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
			cur.Data = b.String()
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

// cutPrefixFold returns s without prefix, compared case-insensitively.
func cutPrefixFold(s, prefix string) string {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):]
	}
	return s
}
