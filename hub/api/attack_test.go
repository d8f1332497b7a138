package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/notify"
	"github.com/gridedge/gridedge/hub/notify/smtptest"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// Attack tests: each does what an attacker holding valid credentials of
// one user (or app, or admin) would do against a real server on a real
// bolt store, and asserts that the attack fails. They close the "users and
// tokens" and "inputs and transport" items of the hardening issue.

// TestAttackSystemLayerThroughCollectionRoutes: an admin (or a stolen admin
// token) must not bypass the user rules by writing the system layer
// through the generic collection routes.
func TestAttackSystemLayerThroughCollectionRoutes(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", map[string]Perm{"demo": PermRead})
	attacks := []struct {
		name         string
		method, path string
		body         any
	}{
		{"delete the last admin", "DELETE", "/system/users/admin", nil},
		{"insert a user with a chosen hash", "POST", "/system/users", map[string]any{"_id": "x y!", "username": "x y!",
			"passwordHash": "$2a$04$abcdefghijklmnopqrstuuF1Kc5Y4r6l0mE4r3Gx7bZyq1mN8yq6e", "admin": true}},
		{"promote a user in place", "PATCH", "/system/users/alice", map[string]any{"admin": true}},
		{"update many users", "PATCH", "/system/users", []any{map[string]any{"_id": "alice", "admin": true}}},
		{"bulk-replace the apps", "POST", "/bulk/system/apps", map[string]any{"data": []any{map[string]any{"_id": "evil", "keyHash": "00"}}, "init": true}},
		{"delete every token", "DELETE", "/system/tokens", nil},
		{"wipe the users", "DELETE", "/system/users?query=" + `%7B%7D`, nil},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e.t = t
			code, res := e.do(a.method, a.path, a.body, e.admin)
			if code != http.StatusForbidden {
				t.Fatalf("%s %s by an admin: got %d %v, want 403", a.method, a.path, code, res)
			}
		})
	}
	e.t = t
	// Nothing changed: admin still logs in, no user "x y!", alice no admin.
	e.login("admin", adminPassword)
	if _, err := e.auth.User(t.Context(), "x y!"); err == nil {
		t.Fatal(`user "x y!" was inserted through the collection route`)
	}
	if u, err := e.auth.User(t.Context(), "alice"); err != nil || u.Admin {
		t.Fatalf("alice after the attacks: got %+v, %v; want a non-admin user", u, err)
	}
	// Reading the system layer stays possible for admins, without secrets.
	e.must("GET", "/system/users", nil, e.admin)

	// The last admin cannot be removed nor demoted through /users either,
	// whatever its name: make "root" the only admin (as a legacy database
	// could have it) and try.
	ctx := context.Background()
	if _, err := e.auth.AddUser(ctx, auth.NewUser{Name: "root", Password: "root-password", Admin: true}); err != nil {
		t.Fatal(err)
	}
	root := e.login("root", "root-password")
	if _, err := e.st.UpdateByID(ctx, auth.SystemLayer, auth.UsersCollection, "admin", map[string]any{"$set": map[string]any{"admin": false}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ method, path string }{{"DELETE", "/users/root"}, {"PATCH", "/users/root"}} {
		var body any
		if a.method == "PATCH" {
			body = map[string]any{"admin": false}
		}
		code, res := e.do(a.method, a.path, body, root)
		if code < 400 || code >= 500 {
			t.Fatalf("%s %s on the last admin: got %d %v, want a 4xx refusal", a.method, a.path, code, res)
		}
	}
	if u, err := e.auth.User(ctx, "root"); err != nil || !u.Admin {
		t.Fatalf("root after the attempts: got %+v, %v; want still an admin", u, err)
	}
}

// TestAttackStolenTokenTakesOverAccount: a stolen login token must not be
// enough to change the password, and a user must not take over someone
// else's e-mail address (which would lock them out of e-mail login).
func TestAttackStolenTokenTakesOverAccount(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", map[string]Perm{"demo": PermRead})
	for _, u := range []auth.NewUser{newUser("bob", "bob-password", "bob@x.test"), newUser("dave@x.test", "dave-password", "")} {
		if _, err := e.auth.AddUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}

	// The thief has alice's token but not her password.
	for _, body := range []map[string]any{
		{"password": "attacker-chosen"},
		{"password": "attacker-chosen", "currentPassword": "a wrong guess"},
	} {
		code, res := e.do("PATCH", "/users/alice", body, alice)
		if code != http.StatusForbidden {
			t.Fatalf("PATCH /users/alice %v with a stolen token: got %d %v, want 403", body, code, res)
		}
	}
	e.login("alice", "alice-password")
	// With the current password, the change goes through.
	e.must("PATCH", "/users/alice", map[string]any{"password": "alice-new-password", "currentPassword": "alice-password"}, alice)
	e.login("alice", "alice-new-password")
	// An admin resetting another user's password needs no current password.
	e.must("PATCH", "/users/alice", map[string]any{"password": "reset-by-admin"}, e.admin)
	alice = e.login("alice", "reset-by-admin")

	// E-mail addresses: valid and unique, case-insensitively.
	cases := []struct {
		email  string
		status int
	}{
		{"bob@x.test", http.StatusConflict},
		{"BOB@X.Test", http.StatusConflict},
		{"not an address", http.StatusBadRequest},
		{"Bob <bob2@x.test>", http.StatusBadRequest},
		{"Dave@x.test", http.StatusConflict}, // another user's name: login would be ambiguous
	}
	for _, c := range cases {
		code, res := e.do("PATCH", "/users/alice", map[string]any{"email": c.email}, alice)
		if code != c.status {
			t.Fatalf("alice sets her e-mail to %q: got %d %v, want %d", c.email, code, res, c.status)
		}
	}
	code, res := e.do("POST", "/users", map[string]any{"username": "carol", "email": "Bob@x.test", "password": "carol-password"}, e.admin)
	if code != http.StatusConflict {
		t.Fatalf("admin adds a user with bob's e-mail: got %d %v, want 409", code, res)
	}
	// Bob still logs in with his e-mail; alice may take a fresh address.
	e.login("bob@x.test", "bob-password")
	e.must("PATCH", "/users/alice", map[string]any{"email": "alice@x.test"}, alice)
	e.login("alice@x.test", "reset-by-admin")
}

// TestAttackPublicCallerReadsLayerConfig: a caller with only public access
// must not read a layer's configuration through /layers, and a writer must
// not widen the public attributes through PUT /config.
func TestAttackPublicCallerReadsLayerConfig(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.PutLayer(ctx, store.Layer{ID: "grid", Config: map[string]any{"apiKey": "cfg-s3cret"},
		Collections: []store.Collection{{Name: "meters", Extra: map[string]any{"publicFields": []any{"name"}, "track": "trk-s3cret"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Insert(ctx, "grid", "meters", []store.Document{{"_id": "m1", "name": "M1", "owner": "private person"}}); err != nil {
		t.Fatal(err)
	}
	pub := e.addUser("pub", map[string]Perm{"grid": PermPublic})
	writer := e.addUser("writer", map[string]Perm{"grid": PermWrite})

	for _, path := range []string{"/layers/grid", "/layers"} {
		code, data, _ := e.send(e.request("GET", path, nil, pub))
		if code == 200 && (strings.Contains(string(data), "cfg-s3cret") || strings.Contains(string(data), "trk-s3cret")) {
			t.Fatalf("GET %s by a public caller leaks the layer's config: %s", path, data)
		}
	}
	e.wantError("GET", "/config/grid/meters", nil, pub, 403, "")

	// The writer widens publicFields to expose "owner" to public callers.
	code, res := e.do("PUT", "/config/grid/meters", map[string]any{"publicFields": []any{"name", "owner"}}, writer)
	if code != http.StatusForbidden {
		t.Fatalf("PUT /config by a write user: got %d %v, want 403", code, res)
	}
	code, data, _ := e.send(e.request("GET", "/grid/meters/m1", nil, pub))
	if code != 200 || strings.Contains(string(data), "private person") {
		t.Fatalf("public read after the attempt: got %d %s, want 200 without the owner", code, data)
	}
	// Readers still read the config; admins still change it.
	reader := e.addUser("reader", map[string]Perm{"grid": PermRead})
	e.must("GET", "/config/grid/meters", nil, reader)
	e.must("PUT", "/config/grid/meters", map[string]any{"publicFields": []any{"name"}}, e.admin)
}

// TestAttackStoredXSSThroughResources: a writer uploads an HTML page with a
// script; a reader opening it must not get it rendered as a page of the
// hub's origin.
func TestAttackStoredXSSThroughResources(t *testing.T) {
	e := newEnv(t)
	writer := e.addUser("writer", map[string]Perm{"fs:fs": PermWrite})
	victim := e.addUser("victim", map[string]Perm{"fs:fs": PermRead})
	payload := `<html><script>fetch("/api/v2/users",{headers:{"X-Auth-Token":localStorage.t}})</script></html>`
	uploads := []struct {
		name, typ string
		inline    bool
	}{
		{"evil.html", "text/html", false},
		{"evil.svg", "image/svg+xml", false},
		{"evil.xhtml", "application/xhtml+xml", false},
		{"evil.js", "text/javascript", false},
		{"nosniff.png", "image/png", true},
		{"report.pdf", "application/pdf", true},
		{"data.csv", "text/csv", true},
	}
	for _, u := range uploads {
		t.Run(u.name, func(t *testing.T) {
			e.t = t
			code, body, _ := e.send(uploadReq(t, e, "/resources?fs=fs&type="+url.QueryEscape(u.typ), u.name, payload, writer))
			if code != http.StatusCreated {
				t.Fatalf("upload: %d %s", code, body)
			}
			code, _, h := e.send(e.request("GET", "/resources/"+u.name+"?fs=fs&key=filename", nil, victim))
			if code != 200 {
				t.Fatalf("download: got %d, want 200", code)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "sandbox") {
				t.Errorf("Content-Security-Policy: got %q, want sandbox", got)
			}
			disp := h.Get("Content-Disposition")
			if inline := strings.HasPrefix(disp, "inline"); inline != u.inline || !strings.Contains(disp, u.name) {
				t.Errorf("Content-Disposition of %s: got %q, want inline=%v with the file name", u.typ, disp, u.inline)
			}
		})
	}
}

// TestAttackPasswordGuessing: an attacker guesses passwords, for one
// account and then across accounts, rotating X-Forwarded-For. The hub must
// answer 429 with Retry-After before spending bcrypt on every guess.
func TestAttackPasswordGuessing(t *testing.T) {
	e := newEnv(t)
	clock := e.clock
	e.api.now = clock.Now
	guess := func(user string, xff string) (int, http.Header) {
		req := e.request("POST", "/login", map[string]any{"user": user, "password": "guess-" + strconv.Itoa(rand.IntN(1e9))}, noCred)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		code, _, h := e.send(req)
		return code, h
	}
	throttled := func(what string, try func(i int) (int, http.Header)) {
		t.Helper()
		for i := range 100 {
			code, h := try(i)
			switch code {
			case http.StatusUnauthorized:
				continue
			case http.StatusTooManyRequests:
				if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
					t.Fatalf("%s: 429 with Retry-After %q, want whole seconds", what, h.Get("Retry-After"))
				}
				t.Logf("%s: throttled after %d guesses", what, i)
				return
			default:
				t.Fatalf("%s: guess %d got %d, want 401 or 429", what, i, code)
			}
		}
		t.Fatalf("%s: 100 wrong passwords in a row, never a 429", what)
	}
	throttled("one account", func(int) (int, http.Header) { return guess("admin", "") })
	// While throttled, even the right password is refused before bcrypt runs.
	code, _ := e.do("POST", "/login", map[string]any{"user": "admin", "password": adminPassword}, noCred)
	if code != http.StatusTooManyRequests {
		t.Fatalf("right password during the lock-out: got %d, want 429", code)
	}
	// The lock-out ends.
	clock.Add(time.Hour)
	e.login("admin", adminPassword)

	// Spraying across accounts from one client, lying about the client's
	// address: X-Forwarded-For is not trusted without configured proxies.
	clock.Add(time.Hour)
	throttled("many accounts", func(i int) (int, http.Header) {
		return guess("user"+strconv.Itoa(i), "198.51.100."+strconv.Itoa(i%250))
	})
}

// TestAttackPasswordGuessingAcrossSpellings: a user's name and e-mail
// address name one account; guessing under both spellings must not double
// the attacker's budget.
func TestAttackPasswordGuessingAcrossSpellings(t *testing.T) {
	e := newEnv(t)
	e.api.now = e.clock.Now
	if _, err := e.auth.AddUser(context.Background(), auth.NewUser{Name: "ops", Email: "ops@grid.test", Password: "ops-password-1"}); err != nil {
		t.Fatal(err)
	}
	spellings := []string{"ops", "ops@grid.test"}
	per := e.api.Config.Auth.LoginThrottle.PerAccount
	for i := range 3 * per {
		// each guess from its own client address, so only the account's
		// count can lock it out
		req := e.request("POST", "/login", map[string]any{"user": spellings[i%len(spellings)], "password": "guess-" + strconv.Itoa(i)}, noCred)
		req.RemoteAddr = "203.0.113." + strconv.Itoa(i+1) + ":4000"
		code, _, _ := e.send(req)
		if code == http.StatusTooManyRequests {
			if i != per {
				t.Fatalf("throttled after %d guesses over %v, want after %d (one account's budget)", i, spellings, per)
			}
			return
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("guess %d: got %d, want 401 or 429", i, code)
		}
	}
	t.Fatalf("%d wrong passwords over %v without a 429: each spelling had its own budget", 3*per, spellings)
}

// TestAttackEmailRelay: any logged-in user used /notify/email as an open
// relay: any sender, any number of recipients, as often as they liked.
func TestAttackEmailRelay(t *testing.T) {
	smtpd := smtptest.Start(t, "mailer", "mail-secret")
	e := newEnv(t, func(s *Server) {
		s.Config.Notify.SMTP = notify.SMTPConfig{Host: "127.0.0.1", Port: smtpd.Port(), Username: "mailer", Password: "mail-secret",
			TLS: "none", From: "hub@gridedge.test"}
	})
	reader := e.addUser("reader", map[string]Perm{"demo": PermRead})
	code, res := e.do("POST", "/notify/email", map[string]any{"to": "victim@x.test", "subject": "Your invoice", "text": "pay here"}, reader)
	if code != http.StatusForbidden {
		t.Fatalf("e-mail by a user without the notify grant: got %d %v, want 403", code, res)
	}
	mailer := e.addUser("mailer", map[string]Perm{NotifyGrant: PermWrite})
	code, res = e.do("POST", "/notify/email", map[string]any{"from": "ceo@bank.test", "to": "victim@x.test", "text": "wire the money"}, mailer)
	if code != http.StatusForbidden {
		t.Fatalf("e-mail with a forged sender: got %d %v, want 403", code, res)
	}
	var many []any
	for i := range 500 {
		many = append(many, "v"+strconv.Itoa(i)+"@x.test")
	}
	code, res = e.do("POST", "/notify/email", map[string]any{"bcc": many, "text": "spam"}, mailer)
	if code != http.StatusBadRequest {
		t.Fatalf("e-mail to 500 recipients: got %d %v, want 400", code, res)
	}
	if n := len(smtpd.Messages()); n != 0 {
		t.Fatalf("refused messages reached the SMTP server: %d", n)
	}
	// Sent from the configured sender, until the rate cap answers 429.
	sent := 0
	for range 200 {
		code, res = e.do("POST", "/notify/email", map[string]any{"to": "ops@x.test", "text": "alarm"}, mailer)
		if code != 200 {
			break
		}
		sent++
	}
	if code != http.StatusTooManyRequests || sent == 0 || sent >= 200 {
		t.Fatalf("after %d messages: got %d %v, want some sent, then 429", sent, code, res)
	}
	if m := smtpd.Messages()[0]; m.From != "hub@gridedge.test" {
		t.Fatalf("envelope sender: got %q, want the configured hub@gridedge.test", m.From)
	}
}

// serveReal serves the API as the hub does (HTTPServer on Listener) on a
// loopback port and returns its address.
func serveReal(t *testing.T, s *Server) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listener(raw)
	if err != nil {
		t.Fatal(err)
	}
	srv := s.HTTPServer()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return raw.Addr().String()
}

// TestAttackSlowBody: a client sends headers, then trickles (or never
// sends) the body it announced, holding a connection and a goroutine. The
// hub must drop it after http.readTimeout, and cap open connections.
func TestAttackSlowBody(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.Config.HTTP.ReadTimeout = config.Duration(time.Second)
		s.Config.HTTP.MaxConns = 4
	})
	addr := serveReal(t, e.api)
	slow := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /api/v2/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"user\":")
		return c
	}
	start := time.Now()
	c := slow()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if held := time.Since(start); err != nil || held > 5*time.Second {
		t.Fatalf("slow body: connection held %s (read error %v), want closed within ~1s readTimeout", held.Round(time.Millisecond), err)
	}

	// More slow clients than maxConns: the cap holds them back, and once
	// the read timeout frees the slots the hub answers again.
	for range 8 {
		slow()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + Prefix + "/health")
	if err != nil {
		t.Fatalf("health after the slow clients: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health after the slow clients: got %d, want 200", resp.StatusCode)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 named cn.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestAttackPlaintextREST: an eavesdropper on the network reads passwords
// and tokens of a plaintext REST API. With http.tls the listener speaks
// only TLS, picks up a renewed certificate without a restart, and
// requireTLS refuses a configuration without TLS.
func TestAttackPlaintextREST(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	first := writeCert(t, certFile, keyFile, "first")
	e := newEnv(t, func(s *Server) { s.Config.HTTP.TLS = &TLSConfig{CertFile: certFile, KeyFile: keyFile} })
	addr := serveReal(t, e.api)

	// A client that speaks plaintext gets no API answer and leaks nothing useful.
	resp, err := http.Post("http://"+addr+Prefix+"/login", "application/json", strings.NewReader(`{"user":"admin","password":"`+adminPassword+`"}`))
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || strings.Contains(string(body), "authToken") {
			t.Fatalf("plaintext login on the TLS listener: got %d %s, want a refusal", resp.StatusCode, body)
		}
	}
	get := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if got := get(); !got.Equal(first) {
		t.Fatalf("served certificate %q, want %q", got.Subject.CommonName, first.Subject.CommonName)
	}
	// Renewal: new files, picked up without a restart.
	time.Sleep(1100 * time.Millisecond) // a later modification time, and past the 1s check interval
	second := writeCert(t, certFile, keyFile, "second")
	if got := get(); !got.Equal(second) {
		t.Fatalf("after renewal: served %q, want %q", got.Subject.CommonName, second.Subject.CommonName)
	}
	// HTTPS works end to end.
	pool := x509.NewCertPool()
	pool.AddCert(second)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = client.Get("https://" + addr + Prefix + "/health")
	if err != nil {
		t.Fatalf("HTTPS health: %v", err)
	}
	resp.Body.Close()

	// requireTLS without a certificate does not start.
	var c Config
	c.HTTP.RequireTLS = true
	c.Defaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http.requireTLS") {
		t.Fatalf("requireTLS without http.tls: got %v, want an error naming http.requireTLS", err)
	}
}

// TestPlaintextWarning: a plaintext REST listener on a non-loopback address
// is announced with a WARNING; a loopback one is not.
func TestPlaintextWarning(t *testing.T) {
	cases := []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"0.0.0.0:0", true}}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			ln, err := net.Listen("tcp", c.addr)
			if err != nil {
				t.Skipf("listen on %s: %v", c.addr, err)
			}
			defer ln.Close()
			var logs strings.Builder
			s := &Server{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if _, err := s.Listener(ln); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "WARNING"); got != c.warn {
				t.Fatalf("warning logged: got %v, want %v (logs %q)", got, c.warn, logs.String())
			}
		})
	}
}
