// Users: documents of system/users, one per user, _id = user name, with a
// bcrypt hash of the password.

package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// User is a user as the API shows it (no password hash).
type User struct {
	// ID is the user name; it is also the userId of login.
	ID string `json:"_id"`
	// Username repeats ID, as Meteor's users collection has it.
	Username string `json:"username"`
	// Email is optional; login accepts it in place of the name.
	Email string `json:"email,omitempty"`
	// Admin may do everything.
	Admin bool `json:"admin"`
	// Grants maps layer ids (and "fs:<bucket>") to permissions.
	Grants map[string]Perm `json:"grants"`
	// Profile is free-form (returned by /me).
	Profile map[string]any `json:"profile,omitempty"`
	// Created is when the user was added.
	Created time.Time `json:"createdAt"`
}

// NewUser is what AddUser needs.
type NewUser struct {
	// Name is the user name (letters, digits, '.', '_', '-', '@'; up to 64).
	Name string `json:"username"`
	// Email is optional.
	Email string `json:"email,omitempty"`
	// Password is the clear-text password (at least MinPasswordLength).
	Password string `json:"password"`
	// Admin makes the user an admin.
	Admin bool `json:"admin,omitempty"`
	// Grants are the initial permissions.
	Grants map[string]Perm `json:"grants,omitempty"`
	// Profile is free-form.
	Profile map[string]any `json:"profile,omitempty"`
}

// CheckUserName reports whether name can name a user or app.
func CheckUserName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: user name %q must have 1 to 64 characters", ErrInvalid, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return fmt.Errorf("%w: user name %q may only hold letters, digits and . _ - @", ErrInvalid, name)
		}
	}
	return nil
}

// AddUser creates a user.
func (s *Service) AddUser(ctx context.Context, u NewUser) (*User, error) {
	if err := CheckUserName(u.Name); err != nil {
		return nil, err
	}
	if err := checkPassword(u.Password); err != nil {
		return nil, err
	}
	if err := CheckGrants(u.Grants); err != nil {
		return nil, err
	}
	if err := checkEmail(u.Email); err != nil {
		return nil, err
	}
	if _, err := s.st.Get(ctx, SystemLayer, AppsCollection, u.Name); err == nil {
		return nil, fmt.Errorf("%w: %q is an appId", ErrExists, u.Name)
	}
	if err := s.checkLoginNames(ctx, u.Name, u.Name, u.Email); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), s.opts.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password: %w", err)
	}
	dh, err := bcrypt.GenerateFromPassword([]byte(PasswordDigest(u.Password)), s.opts.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password digest: %w", err)
	}
	doc := store.Document{
		"_id": u.Name, "username": u.Name, fieldPasswordHash: string(hash),
		fieldPasswordDigest: string(dh), fieldPasswordDigestOf: string(hash),
		"admin": u.Admin, "grants": grantsDoc(u.Grants), "createdAt": s.opts.Now().UTC(),
	}
	if u.Email != "" {
		doc["email"] = u.Email
	}
	if u.Profile != nil {
		doc["profile"] = u.Profile
	}
	if err := s.insertOne(ctx, UsersCollection, doc); err != nil {
		return nil, fmt.Errorf("auth: add user %q: %w", u.Name, err)
	}
	return userFromDoc(doc), nil
}

// Users lists every user ordered by name.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	docs, err := s.st.Find(ctx, SystemLayer, UsersCollection, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	out := make([]User, 0, len(docs))
	for _, d := range docs {
		out = append(out, *userFromDoc(d))
	}
	return out, nil
}

// User returns one user.
func (s *Service) User(ctx context.Context, name string) (*User, error) {
	d, err := s.userDoc(ctx, name)
	if err != nil {
		return nil, err
	}
	return userFromDoc(d), nil
}

func (s *Service) userDoc(ctx context.Context, name string) (store.Document, error) {
	d, err := s.st.Get(ctx, SystemLayer, UsersCollection, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: get user %q: %w", name, err)
	}
	return d, nil
}

// UserUpdate changes a user; nil fields are left alone.
type UserUpdate struct {
	// Password replaces the password and revokes every login token of the user.
	Password *string `json:"password,omitempty"`
	// Email replaces the e-mail address.
	Email *string `json:"email,omitempty"`
	// Admin sets or clears the admin role.
	Admin *bool `json:"admin,omitempty"`
	// Grants are merged into the user's grants; a "none" entry removes one.
	Grants map[string]Perm `json:"grants,omitempty"`
	// Profile replaces the profile.
	Profile map[string]any `json:"profile,omitempty"`
}

// UpdateUser applies u to the user name.
func (s *Service) UpdateUser(ctx context.Context, name string, u UserUpdate) (*User, error) {
	d, err := s.userDoc(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := CheckGrants(u.Grants); err != nil {
		return nil, err
	}
	set := map[string]any{}
	if u.Password != nil {
		if err := checkPassword(*u.Password); err != nil {
			return nil, err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(*u.Password), s.opts.BcryptCost)
		if err != nil {
			return nil, fmt.Errorf("auth: hash password: %w", err)
		}
		set[fieldPasswordHash] = string(hash)
		// Meteor clients send sha256(password) (see meteor.go).
		dh, err := bcrypt.GenerateFromPassword([]byte(PasswordDigest(*u.Password)), s.opts.BcryptCost)
		if err != nil {
			return nil, fmt.Errorf("auth: hash password digest: %w", err)
		}
		set[fieldPasswordDigest], set[fieldPasswordDigestOf] = string(dh), string(hash)
	}
	if u.Email != nil {
		if err := checkEmail(*u.Email); err != nil {
			return nil, err
		}
		if err := s.checkLoginNames(ctx, name, "", *u.Email); err != nil {
			return nil, err
		}
		set["email"] = *u.Email
	}
	if u.Admin != nil {
		if name == AdminUser && !*u.Admin {
			return nil, fmt.Errorf("%w: the %q user keeps the admin role", ErrInvalid, AdminUser)
		}
		if wasAdmin, _ := d["admin"].(bool); wasAdmin && !*u.Admin {
			if err := s.keepAnAdmin(ctx, name); err != nil {
				return nil, err
			}
		}
		set["admin"] = *u.Admin
	}
	if u.Profile != nil {
		set["profile"] = u.Profile
	}
	if len(u.Grants) > 0 {
		g := grantsFromDoc(d["grants"])
		for k, p := range u.Grants {
			if p == None {
				delete(g, k)
			} else {
				g[k] = p
			}
		}
		set["grants"] = grantsDoc(g)
	}
	if len(set) > 0 {
		_, err := s.st.UpdateByID(ctx, SystemLayer, UsersCollection, name, map[string]any{"$set": set})
		// Role and grants are part of the cached principal.
		s.cache.drop(KindUser, name, "")
		if err != nil {
			return nil, fmt.Errorf("auth: update user %q: %w", name, err)
		}
	}
	if u.Password != nil {
		if err := s.revokeTokens(ctx, name); err != nil {
			return nil, err
		}
	}
	return s.User(ctx, name)
}

// DeleteUser removes a user and its tokens. The admin user cannot be removed.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if name == AdminUser {
		return fmt.Errorf("%w: the %q user cannot be deleted", ErrInvalid, AdminUser)
	}
	if err := s.keepAnAdmin(ctx, name); err != nil {
		return err
	}
	err := s.st.DeleteByID(ctx, SystemLayer, UsersCollection, name)
	s.cache.drop(KindUser, name, "")
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: user %q", ErrNotFound, name)
		}
		return fmt.Errorf("auth: delete user %q: %w", name, err)
	}
	return s.revokeTokens(ctx, name)
}

// checkEmail accepts "" (no address) or a bare address: "bob@x.test", not
// "Bob <bob@x.test>" nor anything mail.ParseAddress rejects.
func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email || len(email) > 254 {
		return fmt.Errorf("%w: e-mail %q is not a bare address such as name@example.org", ErrInvalid, email)
	}
	return nil
}

// checkLoginNames refuses, for the user self, a new name or e-mail that
// another user already logs in with: login takes a name or an e-mail, so
// both share one namespace, compared without regard to case. Empty
// arguments are not checked. A scan of the users is cheap: a hub has few.
func (s *Service) checkLoginNames(ctx context.Context, self, newName, newEmail string) error {
	if newName == "" && newEmail == "" {
		return nil
	}
	docs, err := s.st.Find(ctx, SystemLayer, UsersCollection, store.FindOptions{})
	if err != nil {
		return fmt.Errorf("auth: check e-mail addresses: %w", err)
	}
	for _, d := range docs {
		id, _ := d["_id"].(string)
		if id == self && newName == "" {
			continue // the user's own current name and address
		}
		email, _ := d["email"].(string)
		for _, taken := range []string{id, email} {
			if taken == "" {
				continue
			}
			if newEmail != "" && strings.EqualFold(taken, newEmail) && id != self {
				return fmt.Errorf("%w: e-mail %q is taken by another user", ErrExists, newEmail)
			}
			if newName != "" && taken == email && strings.EqualFold(taken, newName) {
				return fmt.Errorf("%w: %q is another user's e-mail address", ErrExists, newName)
			}
		}
	}
	return nil
}

// VerifyPassword checks the password of the user name; it is what a user
// gives to change its own password. A wrong password is ErrForbidden.
func (s *Service) VerifyPassword(ctx context.Context, name, password string) error {
	d, err := s.userDoc(ctx, name)
	if err != nil {
		return err
	}
	hash, _ := d[fieldPasswordHash].(string)
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return fmt.Errorf("%w: the current password is wrong", ErrForbidden)
	}
	return nil
}

// keepAnAdmin refuses to remove or demote name when no other admin would
// be left. The check and the change are not one transaction: two admins
// demoting each other at the same instant could still both succeed.
func (s *Service) keepAnAdmin(ctx context.Context, name string) error {
	sel, err := query.CompileSelector(map[string]any{"admin": true})
	if err != nil {
		return fmt.Errorf("auth: count admins: %w", err)
	}
	docs, err := s.st.Find(ctx, SystemLayer, UsersCollection, store.FindOptions{Selector: sel, Limit: 2})
	if err != nil {
		return fmt.Errorf("auth: count admins: %w", err)
	}
	for _, d := range docs {
		if id, _ := d["_id"].(string); id != name {
			return nil
		}
	}
	if len(docs) == 0 {
		return nil // name is no admin: nothing to keep
	}
	return fmt.Errorf("%w: %q is the last admin; make another user admin first", ErrInvalid, name)
}

func userFromDoc(d store.Document) *User {
	u := &User{Grants: grantsFromDoc(d["grants"])}
	u.ID, _ = d["_id"].(string)
	u.Username, _ = d["username"].(string)
	if u.Username == "" {
		u.Username = u.ID
	}
	u.Email, _ = d["email"].(string)
	u.Admin, _ = d["admin"].(bool)
	u.Profile, _ = d["profile"].(map[string]any)
	u.Created, _ = asTime(d["createdAt"])
	return u
}
