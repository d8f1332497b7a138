package auth

import (
	"context"
	"encoding/hex"
	"testing"
	"time"
)

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Hour
	s, st, clk := bootstrapped(t, Options{TokenTTL: ttl})
	if _, err := s.AddUser(ctx, NewUser{Name: "alice", Password: "alice-password", Grants: map[string]Perm{"demo": Read}}); err != nil {
		t.Fatal(err)
	}

	// Issue.
	sess, err := s.Login(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := hex.DecodeString(sess.Token); err != nil || len(b) != 32 {
		t.Errorf("token: got %q, want 32 random bytes in hex", sess.Token)
	}
	if want := clk.Now().Add(ttl); !sess.Expires.Equal(want) {
		t.Errorf("expires: got %v, want %v", sess.Expires, want)
	}
	if d, err := st.Get(ctx, SystemLayer, TokensCollection, hashSecret(sess.Token)); err != nil || d["userId"] != "alice" {
		t.Fatalf("stored token: got %v, %v, want a document under the token's hash", d, err)
	}

	// Valid until the last nanosecond of its TTL.
	clk.Advance(ttl - time.Nanosecond)
	p, err := s.Authenticate(ctx, "alice", sess.Token)
	if err != nil || p.ID != "alice" || p.Kind != KindUser || p.TokenHash != hashSecret(sess.Token) || p.Access("demo") != Read {
		t.Fatalf("Authenticate before expiry: got %+v, %v", p, err)
	}

	// Renew: a new token with a fresh expiry; the old one stops working.
	renewed, err := s.Renew(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Token == sess.Token || !renewed.Expires.Equal(clk.Now().Add(ttl)) || renewed.UserID != "alice" {
		t.Fatalf("Renew: got %+v", renewed)
	}
	if _, err := s.Authenticate(ctx, "alice", sess.Token); errClass(err) != "unauthorized" {
		t.Errorf("renewed-away token: got %v, want unauthorized", err)
	}

	// Expire: at exactly its expiry the renewed token is refused and deleted.
	clk.Advance(ttl)
	if _, err := s.Authenticate(ctx, "alice", renewed.Token); errClass(err) != "unauthorized" {
		t.Errorf("expired token: got %v, want unauthorized", err)
	}
	if _, err := st.Get(ctx, SystemLayer, TokensCollection, hashSecret(renewed.Token)); err == nil {
		t.Error("an expired token stays stored after use")
	}

	// Revoke: Logout ends the session; a second Logout is harmless.
	sess, err = s.Login(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	p, err = s.Authenticate(ctx, "alice", sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Logout(ctx, p); err != nil {
			t.Fatalf("Logout %d: %v", i+1, err)
		}
	}
	if _, err := s.Authenticate(ctx, "alice", sess.Token); errClass(err) != "unauthorized" {
		t.Errorf("token after logout: got %v, want unauthorized", err)
	}
}

func TestTokenSweep(t *testing.T) {
	ctx := context.Background()
	s, st, clk := bootstrapped(t, Options{TokenTTL: time.Hour})
	for range 3 {
		if _, err := s.Login(ctx, AdminUser, "admin-password"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Hour)
	// The next login deletes every expired token and keeps its own.
	if _, err := s.Login(ctx, AdminUser, "admin-password"); err != nil {
		t.Fatal(err)
	}
	if n := len(docs(t, st, TokensCollection)); n != 1 {
		t.Fatalf("tokens after the sweep: got %d, want 1", n)
	}
}

func TestRenewAndLogoutNeedALoginToken(t *testing.T) {
	ctx := context.Background()
	s, _, _ := bootstrapped(t, Options{})
	key, err := s.AddApp(ctx, NewApp{Name: "scada"}, AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	app, err := s.Authenticate(ctx, key.AppID, key.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		p    *Principal
	}{
		{"nil", nil},
		{"anonymous", Anonymous(nil)},
		{"app", app},
		{"user without token", &Principal{ID: AdminUser, Kind: KindUser}},
	}
	for _, tc := range cases {
		if _, err := s.Renew(ctx, tc.p); errClass(err) != "forbidden" {
			t.Errorf("Renew(%s): got %v, want forbidden", tc.name, err)
		}
		if err := s.Logout(ctx, tc.p); errClass(err) != "forbidden" {
			t.Errorf("Logout(%s): got %v, want forbidden", tc.name, err)
		}
	}
}

func TestAuthenticateErrors(t *testing.T) {
	ctx := context.Background()
	s, _, clk := bootstrapped(t, Options{Anonymous: map[string]Perm{"demo": Public}})
	if _, err := s.AddUser(ctx, NewUser{Name: "alice", Password: "alice-password"}); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, id, secret string
		want             string // errClass
	}{
		{"anonymous", "", "", "nil"},
		{"valid", "alice", sess.Token, "nil"},
		{"id only", "alice", "", "unauthorized"},
		{"secret only", "", sess.Token, "unauthorized"},
		{"another user's token", AdminUser, sess.Token, "unauthorized"},
		{"unknown secret", "alice", "0123", "unauthorized"},
		{"unknown id", "nobody", "0123", "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Authenticate(ctx, tc.id, tc.secret)
			if got := errClass(err); got != tc.want {
				t.Fatalf("Authenticate: got %s, want %s", got, tc.want)
			}
			if err == nil && tc.id == "" && (p.Authenticated() || p.Kind != KindAnonymous || p.Access("demo") != Public || p.Access("other") != None) {
				t.Fatalf("anonymous principal: got %+v, want demo=public only", p)
			}
		})
	}
	// A token whose user was removed behind the service's back (by another
	// hub sharing the store): refused once the cached verification is stale.
	if err := s.st.DeleteByID(ctx, SystemLayer, UsersCollection, "alice"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultCacheTTL)
	if _, err := s.Authenticate(ctx, "alice", sess.Token); errClass(err) != "unauthorized" {
		t.Errorf("token of a vanished user: got %v, want unauthorized", err)
	}
}

func TestDefaults(t *testing.T) {
	s, _ := newService(t, Options{})
	if got := s.TokenTTL(); got != 24*time.Hour {
		t.Errorf("TokenTTL: got %v, want 24h", got)
	}
	s2, _ := newService(t, Options{TokenTTL: time.Minute})
	if got := s2.TokenTTL(); got != time.Minute {
		t.Errorf("TokenTTL: got %v, want 1m", got)
	}
}
