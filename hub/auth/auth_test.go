package auth

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

func newService(t *testing.T, opts Options) (*Service, *bolt.Store) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts.BcryptCost = bcrypt.MinCost
	return New(st, opts), st
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{})
	pw, err := s.Bootstrap(ctx, "")
	if err != nil || len(pw) < MinPasswordLength {
		t.Fatalf("Bootstrap generated %q, %v", pw, err)
	}
	if _, err := s.Login(ctx, AdminUser, pw); err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	// Second start: nothing generated, the password stays.
	again, err := s.Bootstrap(ctx, "ignored-now")
	if err != nil || again != "" {
		t.Fatalf("second Bootstrap: %q, %v", again, err)
	}
	if _, err := s.Login(ctx, AdminUser, "ignored-now"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("the env password must only apply on first start: %v", err)
	}
	l, err := st.Layer(ctx, SystemLayer)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{UsersCollection, TokensCollection, AppsCollection} {
		if l.Collection(c) == nil {
			t.Errorf("system layer lacks %s", c)
		}
	}
	// The hash is bcrypt, never the password.
	d, err := st.Get(ctx, SystemLayer, UsersCollection, AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := d["passwordHash"].(string); bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)) != nil {
		t.Fatalf("stored hash %q does not verify", h)
	}
	// Tokens are stored hashed.
	sess, _ := s.Login(ctx, AdminUser, pw)
	if _, err := st.Get(ctx, SystemLayer, TokensCollection, sess.Token); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token stored in clear: %v", err)
	}
}

func TestBootstrapKeepsOtherCollections(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{})
	if err := st.PutLayer(ctx, store.Layer{ID: SystemLayer, Collections: []store.Collection{{Name: "edges"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(ctx, "first-password"); err != nil {
		t.Fatal(err)
	}
	l, _ := st.Layer(ctx, SystemLayer)
	var names []string
	for _, c := range l.Collections {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"edges", "users", "tokens", "apps"}) {
		t.Fatalf("collections %v", names)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := newService(t, Options{TokenTTL: time.Hour, Now: func() time.Time { return now },
		Anonymous: map[string]Perm{"demo": Public}})
	if _, err := s.Bootstrap(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(ctx, NewUser{Name: "eve", Email: "eve@x.test", Password: "eve-password", Grants: map[string]Perm{"demo": Read}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(ctx, NewUser{Name: "eve", Password: "other-password"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	for _, bad := range []NewUser{{Name: "a b", Password: "long-enough"}, {Name: "x", Password: "short"},
		{Name: "y", Password: "long-enough", Grants: map[string]Perm{"bad layer": Read}}} {
		if _, err := s.AddUser(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddUser(%+v): %v, want ErrInvalid", bad, err)
		}
	}
	sess, err := s.Login(ctx, "eve@x.test", "eve-password")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, "eve", sess.Token)
	if err != nil || p.Kind != KindUser || p.Admin || p.Access("demo") != Read || p.Access("other") != None {
		t.Fatalf("principal %+v, %v", p, err)
	}
	anon, err := s.Authenticate(ctx, "", "")
	if err != nil || anon.Authenticated() || anon.Access("demo") != Public {
		t.Fatalf("anonymous %+v, %v", anon, err)
	}
	now = now.Add(time.Hour)
	if _, err := s.Authenticate(ctx, "eve", sess.Token); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
	key, err := s.AddApp(ctx, NewApp{Name: "scada", Grants: map[string]Perm{"demo": Write}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	p, err = s.Authenticate(ctx, key.AppID, key.KeyID)
	if err != nil || p.Kind != KindApp || !p.Can("demo", Write) {
		t.Fatalf("app %+v, %v", p, err)
	}
	if _, err := s.Authenticate(ctx, key.AppID, key.KeyID+"x"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestPerms(t *testing.T) {
	for _, s := range []string{"none", "public", "read", "write", "READ"} {
		if _, err := ParsePerm(s); err != nil {
			t.Errorf("ParsePerm(%q): %v", s, err)
		}
	}
	if _, err := ParsePerm("admin"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParsePerm(admin): %v", err)
	}
	if !(None < Public && Public < Read && Read < Write) {
		t.Error("permission order")
	}
	admin := &Principal{Kind: KindUser, Admin: true}
	if !admin.Can("anything", Write) || !admin.Can(BucketGrant("fs"), Write) {
		t.Error("admin")
	}
	if err := CheckGrants(map[string]Perm{"fs:fs": Read, "demo": Write}); err != nil {
		t.Error(err)
	}
	pub := PublicFields(nil, map[string]any{"publicFields": map[string]any{"meters": []any{"name", "geo.point"}}}, "meters")
	if !slices.Equal(pub, []string{"name", "geo.point"}) {
		t.Fatalf("PublicFields from layer config: %v", pub)
	}
	if pub := PublicFields(map[string]any{"publicFields": []any{"a"}}, nil, "x"); !slices.Equal(pub, []string{"a"}) {
		t.Fatalf("PublicFields from the collection: %v", pub)
	}
	for path, want := range map[string]bool{"_id": true, "name": true, "name.first": true, "geo.point": true, "geo": false, "names": false, "secret": false} {
		if got := FieldAllowed([]string{"name", "geo.point"}, path); got != want {
			t.Errorf("FieldAllowed(%q) = %v, want %v", path, got, want)
		}
	}
}
