package auth

import (
	"context"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestAddUser(t *testing.T) {
	ctx := context.Background()
	s, st, c := bootstrapped(t, Options{})
	key, err := s.AddApp(ctx, NewApp{Name: "scada"}, AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		u    NewUser
		want string // errClass
	}{
		{"valid", NewUser{Name: "alice", Email: "alice@x.test", Password: "alice-password", Grants: map[string]Perm{"demo": Read, "fs:fs": Write, "gone": None}, Profile: map[string]any{"team": "ops"}}, "nil"},
		{"name characters", NewUser{Name: "a.b_c-d@e", Password: "long-enough"}, "nil"},
		{"72-byte password", NewUser{Name: "max", Password: strings.Repeat("p", 72)}, "nil"},
		{"duplicate", NewUser{Name: "alice", Password: "other-password"}, "already exists"},
		{"duplicate admin", NewUser{Name: AdminUser, Password: "other-password"}, "already exists"},
		{"name is an appId", NewUser{Name: key.AppID, Password: "long-enough"}, "already exists"},
		{"empty name", NewUser{Password: "long-enough"}, "invalid"},
		{"space in name", NewUser{Name: "a b", Password: "long-enough"}, "invalid"},
		{"slash in name", NewUser{Name: "a/b", Password: "long-enough"}, "invalid"},
		{"65-character name", NewUser{Name: strings.Repeat("n", 65), Password: "long-enough"}, "invalid"},
		{"short password", NewUser{Name: "x", Password: "short"}, "invalid"},
		{"73-byte password", NewUser{Name: "x", Password: strings.Repeat("p", 73)}, "invalid"},
		{"bad layer grant", NewUser{Name: "y", Password: "long-enough", Grants: map[string]Perm{"bad layer": Read}}, "invalid"},
		{"bad bucket grant", NewUser{Name: "y", Password: "long-enough", Grants: map[string]Perm{"fs:a.b": Read}}, "invalid"},
		{"bad permission", NewUser{Name: "y", Password: "long-enough", Grants: map[string]Perm{"demo": Perm(9)}}, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.AddUser(ctx, tc.u)
			if got := errClass(err); got != tc.want {
				t.Fatalf("AddUser: got %s, want %s", got, tc.want)
			}
			if err == nil && (u.ID != tc.u.Name || u.Username != tc.u.Name || !u.Created.Equal(c.Now())) {
				t.Fatalf("AddUser: got %+v", u)
			}
		})
	}
	u, err := s.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "alice@x.test" || u.Admin || u.Profile["team"] != "ops" || len(u.Grants) != 2 || u.Grants["demo"] != Read || u.Grants["fs:fs"] != Write {
		t.Fatalf("User(alice): got %+v, want email, profile and the two grants that are not none", u)
	}
	d, err := st.Get(ctx, SystemLayer, UsersCollection, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := d[fieldPasswordHash].(string); bcrypt.CompareHashAndPassword([]byte(h), []byte("alice-password")) != nil {
		t.Fatalf("stored hash %q does not verify the password", h)
	}
	if strings.Contains(strings.ToLower(strings.Join(mapStrings(d), " ")), "alice-password") {
		t.Fatal("the password is stored in clear")
	}
	if _, err := s.User(ctx, "nobody"); errClass(err) != "not found" {
		t.Fatalf("User(nobody): got %v, want not found", err)
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.ID)
	}
	if want := []string{"a.b_c-d@e", AdminUser, "alice", "max"}; !slices.Equal(names, want) {
		t.Fatalf("Users: got %v, want %v", names, want)
	}
}

func mapStrings(d map[string]any) []string {
	var out []string
	for _, v := range d {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	s, st, _ := bootstrapped(t, Options{})
	for _, u := range []NewUser{
		{Name: "alice", Email: "alice@x.test", Password: "alice-password"},
		{Name: "bob", Email: "shared@x.test", Password: "bob-password"},
		{Name: "carol", Password: "carol-password"},
	} {
		if _, err := s.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// AddUser refuses a taken e-mail; a database written before that rule
	// may still hold one twice.
	if _, err := st.UpdateByID(ctx, SystemLayer, UsersCollection, "carol", map[string]any{"$set": map[string]any{"email": "shared@x.test"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, user, password string
		wantUser             string // "" = refused with ErrUnauthorized
	}{
		{"by name", "alice", "alice-password", "alice"},
		{"by e-mail", "alice@x.test", "alice-password", "alice"},
		{"admin", AdminUser, "admin-password", AdminUser},
		{"wrong password", "alice", "alice-passworD", ""},
		{"another user's password", "alice", "bob-password", ""},
		{"unknown user", "mallory", "alice-password", ""},
		{"empty user", "", "alice-password", ""},
		{"empty password", "alice", "", ""},
		{"e-mail of two users", "shared@x.test", "bob-password", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sess, err := s.Login(ctx, tc.user, tc.password)
			if tc.wantUser == "" {
				if got := errClass(err); got != "unauthorized" {
					t.Fatalf("Login: got %s, want unauthorized", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if sess.UserID != tc.wantUser {
				t.Fatalf("Login: got user %q, want %q", sess.UserID, tc.wantUser)
			}
		})
	}
}

func TestUpdateUser(t *testing.T) {
	ctx := context.Background()
	s, _, _ := bootstrapped(t, Options{})
	if _, err := s.AddUser(ctx, NewUser{Name: "alice", Password: "alice-password", Grants: map[string]Perm{"demo": Read, "ops": Write}}); err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	yes, no := true, false
	cases := []struct {
		name   string
		user   string
		update UserUpdate
		want   string                      // errClass
		check  func(t *testing.T, u *User) // on success
	}{
		{"merge grants, none removes", "alice", UserUpdate{Grants: map[string]Perm{"demo": Write, "ops": None, "new": Public}}, "nil",
			func(t *testing.T, u *User) {
				if len(u.Grants) != 2 || u.Grants["demo"] != Write || u.Grants["new"] != Public {
					t.Errorf("grants: got %v, want demo=write new=public", u.Grants)
				}
			}},
		{"email and profile", "alice", UserUpdate{Email: ptr("a@x.test"), Profile: map[string]any{"k": "v"}}, "nil",
			func(t *testing.T, u *User) {
				if u.Email != "a@x.test" || u.Profile["k"] != "v" || u.Grants["demo"] != Write {
					t.Errorf("got %+v, want the new email and profile, grants kept", u)
				}
			}},
		{"make admin", "alice", UserUpdate{Admin: &yes}, "nil",
			func(t *testing.T, u *User) {
				if !u.Admin {
					t.Error("admin: got false, want true")
				}
			}},
		{"nothing", "alice", UserUpdate{}, "nil", func(t *testing.T, u *User) {}},
		{"admin keeps the role", AdminUser, UserUpdate{Admin: &no}, "invalid", nil},
		{"short password", "alice", UserUpdate{Password: ptr("short")}, "invalid", nil},
		{"bad grant", "alice", UserUpdate{Grants: map[string]Perm{"a b": Read}}, "invalid", nil},
		{"unknown user", "nobody", UserUpdate{Email: ptr("x@x.test")}, "not found", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.UpdateUser(ctx, tc.user, tc.update)
			if got := errClass(err); got != tc.want {
				t.Fatalf("UpdateUser: got %s, want %s", got, tc.want)
			}
			if err == nil {
				tc.check(t, u)
			}
		})
	}

	// A new password works, the old one does not, and it revokes the
	// user's tokens (not other users' tokens).
	sess, err := s.Login(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	adminSess, err := s.Login(ctx, AdminUser, "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "alice", UserUpdate{Password: ptr("new-alice-password")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", sess.Token); errClass(err) != "unauthorized" {
		t.Errorf("token after a password change: got %v, want unauthorized", err)
	}
	if _, err := s.Authenticate(ctx, AdminUser, adminSess.Token); err != nil {
		t.Errorf("another user's token after the change: got %v, want it valid", err)
	}
	if _, err := s.Login(ctx, "alice", "alice-password"); errClass(err) != "unauthorized" {
		t.Errorf("old password: got %v, want unauthorized", err)
	}
	if _, err := s.Login(ctx, "alice", "new-alice-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	ctx := context.Background()
	s, st, _ := bootstrapped(t, Options{})
	if _, err := s.AddUser(ctx, NewUser{Name: "alice", Password: "alice-password"}); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, user, want string }{
		{"admin", AdminUser, "invalid"},
		{"unknown", "nobody", "not found"},
		{"alice", "alice", "nil"},
		{"twice", "alice", "not found"},
	}
	for _, tc := range cases {
		if got := errClass(s.DeleteUser(ctx, tc.user)); got != tc.want {
			t.Errorf("DeleteUser(%s): got %s, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := s.Authenticate(ctx, "alice", sess.Token); errClass(err) != "unauthorized" {
		t.Errorf("token of a deleted user: got %v, want unauthorized", err)
	}
	if n := len(docs(t, st, TokensCollection)); n != 0 {
		t.Errorf("tokens left after deleting their user: got %d, want 0", n)
	}
}
