package auth

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// countingStore counts the document reads Authenticate makes on a real store.
type countingStore struct {
	store.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, layer, col, id string) (store.Document, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, layer, col, id)
}

// TestCredentialCache checks that verified credentials are served without
// store reads, and that every change that affects them takes effect at
// once through the Service, or within the cache TTL behind its back.
func TestCredentialCache(t *testing.T) {
	const cacheTTL = 10 * time.Second
	type fixture struct {
		s     *Service
		st    *countingStore
		clk   *clock
		token string // alice's login token
		app   *AppKey
	}
	cases := []struct {
		name string
		// change does something to alice, her token or the app after the
		// credentials were verified and cached once.
		change func(t *testing.T, f *fixture)
		// user and app are what Authenticate must then say: "ok" or an
		// errClass; check looks further at an accepted user principal.
		user, app string
		check     func(t *testing.T, p *Principal)
	}{
		{"nothing", func(*testing.T, *fixture) {}, "ok", "ok", nil},
		{"logout", func(t *testing.T, f *fixture) {
			p := mustAuth(t, f.s, "alice", f.token)
			if err := f.s.Logout(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}, "unauthorized", "ok", nil},
		{"renewal", func(t *testing.T, f *fixture) {
			if _, err := f.s.Renew(context.Background(), mustAuth(t, f.s, "alice", f.token)); err != nil {
				t.Fatal(err)
			}
		}, "unauthorized", "ok", nil},
		{"password change", func(t *testing.T, f *fixture) {
			pw := "another-password"
			if _, err := f.s.UpdateUser(context.Background(), "alice", UserUpdate{Password: &pw}); err != nil {
				t.Fatal(err)
			}
		}, "unauthorized", "ok", nil},
		{"grant change", func(t *testing.T, f *fixture) {
			if _, err := f.s.UpdateUser(context.Background(), "alice", UserUpdate{Grants: map[string]Perm{"demo": None, "other": Write}}); err != nil {
				t.Fatal(err)
			}
		}, "ok", "ok", func(t *testing.T, p *Principal) {
			if p.Access("demo") != None || p.Access("other") != Write {
				t.Errorf("grants after the change: got %v, want other=write only", p.Grants)
			}
		}},
		{"made admin", func(t *testing.T, f *fixture) {
			yes := true
			if _, err := f.s.UpdateUser(context.Background(), "alice", UserUpdate{Admin: &yes}); err != nil {
				t.Fatal(err)
			}
		}, "ok", "ok", func(t *testing.T, p *Principal) {
			if !p.Admin {
				t.Errorf("admin after the change: got false, want true")
			}
		}},
		{"user deleted", func(t *testing.T, f *fixture) {
			if err := f.s.DeleteUser(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
		}, "unauthorized", "ok", nil},
		{"app deleted", func(t *testing.T, f *fixture) {
			if err := f.s.DeleteApp(context.Background(), f.app.AppID); err != nil {
				t.Fatal(err)
			}
		}, "ok", "unauthorized", nil},
		{"token expires before the cache TTL", func(_ *testing.T, f *fixture) {
			f.clk.Advance(time.Hour - time.Second)
			mustAuth(t, f.s, "alice", f.token) // cached until the expiry, 1s later
			f.clk.Advance(time.Second)
		}, "unauthorized", "ok", nil},
		{"token removed by another hub, within the TTL", func(t *testing.T, f *fixture) {
			removeBehindBack(t, f.st, TokensCollection, hashSecret(f.token))
			removeBehindBack(t, f.st, AppsCollection, f.app.AppID)
			f.clk.Advance(cacheTTL - time.Nanosecond)
		}, "ok", "ok", nil},
		{"token removed by another hub, after the TTL", func(t *testing.T, f *fixture) {
			removeBehindBack(t, f.st, TokensCollection, hashSecret(f.token))
			removeBehindBack(t, f.st, AppsCollection, f.app.AppID)
			f.clk.Advance(cacheTTL)
		}, "unauthorized", "unauthorized", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			base, _ := newService(t, Options{})
			st := &countingStore{Store: base.st}
			s := New(st, Options{TokenTTL: time.Hour, CacheTTL: cacheTTL, Now: clk.Now, BcryptCost: base.opts.BcryptCost})
			if _, err := s.Bootstrap(ctx, "admin-password"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddUser(ctx, NewUser{Name: "alice", Password: "alice-password", Grants: map[string]Perm{"demo": Read}}); err != nil {
				t.Fatal(err)
			}
			sess, err := s.Login(ctx, "alice", "alice-password")
			if err != nil {
				t.Fatal(err)
			}
			app, err := s.AddApp(ctx, NewApp{Name: "grafana", Grants: map[string]Perm{"demo": Read}}, AdminUser)
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{s: s, st: st, clk: clk, token: sess.Token, app: app}

			// First use reads the store, the next ones do not.
			mustAuth(t, s, "alice", sess.Token)
			mustAuth(t, s, app.AppID, app.KeyID)
			before := st.gets.Load()
			for range 3 {
				mustAuth(t, s, "alice", sess.Token)
				mustAuth(t, s, app.AppID, app.KeyID)
			}
			if got := st.gets.Load() - before; got != 0 {
				t.Fatalf("store reads for cached credentials: got %d, want 0", got)
			}

			tc.change(t, f)
			p, err := s.Authenticate(ctx, "alice", sess.Token)
			if got := okOr(err); got != tc.user {
				t.Fatalf("user token after the change: got %s, want %s", got, tc.user)
			}
			if err == nil && tc.check != nil {
				tc.check(t, p)
			}
			if _, err := s.Authenticate(ctx, app.AppID, app.KeyID); okOr(err) != tc.app {
				t.Fatalf("app key after the change: got %s, want %s", okOr(err), tc.app)
			}
		})
	}
}

// TestCredentialCacheOff: with a negative CacheTTL every request reads the
// store, so a change behind the service's back takes effect at once.
func TestCredentialCacheOff(t *testing.T) {
	ctx := context.Background()
	s, st, _ := bootstrapped(t, Options{CacheTTL: -1})
	sess, err := s.Login(ctx, AdminUser, "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	mustAuth(t, s, AdminUser, sess.Token)
	removeBehindBack(t, st, TokensCollection, hashSecret(sess.Token))
	if _, err := s.Authenticate(ctx, AdminUser, sess.Token); errClass(err) != "unauthorized" {
		t.Fatalf("removed token without a cache: got %v, want unauthorized", err)
	}
}

// TestCredentialCacheRace: a verification that read the store before an
// invalidation must not cache what it read.
func TestCredentialCacheRace(t *testing.T) {
	c := newCredCache(time.Minute)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	p, gen := c.get("alice", "h", now)
	if p != nil {
		t.Fatalf("empty cache: got %+v, want nothing", p)
	}
	c.drop(KindUser, "alice", "h") // a logout between the store read and put
	c.put("alice", "h", &Principal{ID: "alice", Kind: KindUser}, now.Add(time.Hour), now, gen)
	if p, _ := c.get("alice", "h", now); p != nil {
		t.Fatalf("entry verified before the logout: got %+v, want not cached", p)
	}
	_, gen = c.get("alice", "h", now)
	c.put("alice", "h", &Principal{ID: "alice", Kind: KindUser}, now.Add(time.Hour), now, gen)
	if p, _ := c.get("alice", "h", now); p == nil || p.ID != "alice" {
		t.Fatalf("entry verified after the logout: got %+v, want alice", p)
	}
}

func mustAuth(t *testing.T, s *Service, id, secret string) *Principal {
	t.Helper()
	p, err := s.Authenticate(context.Background(), id, secret)
	if err != nil {
		t.Fatalf("Authenticate(%s): %v", id, err)
	}
	return p
}

func okOr(err error) string {
	if err == nil {
		return "ok"
	}
	return errClass(err)
}

// removeBehindBack deletes a system document straight from the store, as
// another hub sharing it would.
func removeBehindBack(t *testing.T, st store.Store, col, id string) {
	t.Helper()
	if err := st.DeleteByID(context.Background(), SystemLayer, col, id); err != nil {
		t.Fatal(err)
	}
}
