// Package auth authenticates and authorises REST API requests (seed 000,
// 3.3.1.3): users with bcrypt password hashes and login tokens that expire,
// can be renewed and revoked; application credentials (appId/keyId) that an
// admin creates; per-layer permissions (public, read, write) and the admin
// role.
//
// Users, tokens and apps are documents of the reserved layer "system"
// (collections users, tokens and apps) in the hub store, so that every hub
// replica sharing a MongoDB sees the same ones. Secrets are never stored in
// clear: users keep a bcrypt hash, tokens and app keys a SHA-256 hash (they
// are long random strings, so a fast hash is enough and lookups stay cheap).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Sentinel errors; callers decide with errors.Is.
var (
	// ErrUnauthorized: missing, wrong, expired or revoked credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credentials are valid but do not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such user or app.
	ErrNotFound = errors.New("not found")
	// ErrExists: a user or app with that id exists already.
	ErrExists = errors.New("already exists")
	// ErrInvalid: a malformed user name, password, permission or grant.
	ErrInvalid = errors.New("invalid")
)

// The reserved layer and its collections.
const (
	// SystemLayer holds users, tokens and apps. Only admins may read it
	// through the REST API, and secrets are stripped even then.
	SystemLayer = "system"
	// UsersCollection holds one document per user, _id = user name.
	UsersCollection = "users"
	// TokensCollection holds one document per login token, _id = SHA-256 of the token.
	TokensCollection = "tokens"
	// AppsCollection holds one document per application, _id = appId.
	AppsCollection = "apps"
	// AdminUser is the user created on first start.
	AdminUser = "admin"
)

// Secret attributes of system documents, never returned by the API.
const (
	fieldPasswordHash = "passwordHash"
	fieldKeyHash      = "keyHash"
)

// SecretFields lists the attributes of system documents that must never
// leave the hub.
var SecretFields = []string{fieldPasswordHash, fieldKeyHash}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// Options configure a Service.
type Options struct {
	// TokenTTL is how long a login token is valid (default 24h); renewal
	// issues a new token with a fresh TTL.
	TokenTTL time.Duration
	// BcryptCost is the bcrypt work factor (default bcrypt.DefaultCost).
	BcryptCost int
	// Anonymous are the grants of requests without credentials (default none).
	Anonymous map[string]Perm
	// Now is the clock (default time.Now); tests pass a fake one.
	Now func() time.Time
	// Logger receives notices (default slog.Default()).
	Logger *slog.Logger
}

// Service authenticates principals and manages users, tokens and apps.
type Service struct {
	st   store.Store
	opts Options
	log  *slog.Logger
}

// New returns a Service over st. Call Bootstrap once before use.
func New(st store.Store, opts Options) *Service {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = bcrypt.DefaultCost
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{st: st, opts: opts, log: opts.Logger}
}

// TokenTTL is the validity of login tokens.
func (s *Service) TokenTTL() time.Duration { return s.opts.TokenTTL }

// Bootstrap creates the system layer when it is missing and, when no admin
// user exists, the user "admin" with the given password — or, when password
// is empty, a generated one, which it returns so that the caller prints it
// once. It returns "" when admin existed already.
func (s *Service) Bootstrap(ctx context.Context, password string) (generated string, err error) {
	l, err := s.st.Layer(ctx, SystemLayer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		l = &store.Layer{ID: SystemLayer, Label: "GridEdge system",
			Description: "Users, login tokens and application credentials of the hub (admins only)"}
	case err != nil:
		return "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	changed := false
	for _, c := range []string{UsersCollection, TokensCollection, AppsCollection} {
		if l.Collection(c) == nil {
			l.Collections = append(l.Collections, store.Collection{Name: c})
			changed = true
		}
	}
	if changed {
		if err := s.st.PutLayer(ctx, *l); err != nil {
			return "", fmt.Errorf("auth: bootstrap: create layer %q: %w", SystemLayer, err)
		}
	}
	if _, err := s.st.Get(ctx, SystemLayer, UsersCollection, AdminUser); err == nil {
		return "", nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	if password == "" {
		password = randomString(12)
		generated = password
	}
	if _, err := s.AddUser(ctx, NewUser{Name: AdminUser, Password: password, Admin: true}); err != nil {
		return "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	s.log.Info("created the admin user", "user", AdminUser)
	return generated, nil
}

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

// CheckGrants validates grant keys: layer names or "fs:<bucket>".
func CheckGrants(grants map[string]Perm) error {
	for k, p := range grants {
		name, what := k, "layer"
		if b, ok := strings.CutPrefix(k, "fs:"); ok {
			name, what = b, "bucket"
		}
		if err := store.CheckName("layer", name); err != nil {
			return fmt.Errorf("%w: grant on %s %q: %v", ErrInvalid, what, k, err)
		}
		if p < None || p > Write {
			return fmt.Errorf("%w: grant on %q: bad permission %d", ErrInvalid, k, int(p))
		}
	}
	return nil
}

func checkPassword(pw string) error {
	if len(pw) < MinPasswordLength {
		return fmt.Errorf("%w: password must have at least %d characters", ErrInvalid, MinPasswordLength)
	}
	if len(pw) > 72 {
		return fmt.Errorf("%w: password must have at most 72 bytes (bcrypt)", ErrInvalid)
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
	if _, err := s.st.Get(ctx, SystemLayer, AppsCollection, u.Name); err == nil {
		return nil, fmt.Errorf("%w: %q is an appId", ErrExists, u.Name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), s.opts.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password: %w", err)
	}
	doc := store.Document{
		"_id": u.Name, "username": u.Name, fieldPasswordHash: string(hash),
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

// insertOne inserts one system document, mapping a duplicate to ErrExists.
func (s *Service) insertOne(ctx context.Context, col string, doc store.Document) error {
	id, _ := doc["_id"].(string)
	res, err := s.st.Insert(ctx, SystemLayer, col, []store.Document{doc})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %q", ErrExists, id)
		}
		return err
	}
	if res.OK == 1 {
		return nil
	}
	if _, gerr := s.st.Get(ctx, SystemLayer, col, id); gerr == nil {
		return fmt.Errorf("%w: %q", ErrExists, id)
	}
	if len(res.Errors) > 0 {
		return errors.New(res.Errors[0])
	}
	return errors.New("not inserted")
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
	}
	if u.Email != nil {
		set["email"] = *u.Email
	}
	if u.Admin != nil {
		if name == AdminUser && !*u.Admin {
			return nil, fmt.Errorf("%w: the %q user keeps the admin role", ErrInvalid, AdminUser)
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
		if _, err := s.st.UpdateByID(ctx, SystemLayer, UsersCollection, name, map[string]any{"$set": set}); err != nil {
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
	if err := s.st.DeleteByID(ctx, SystemLayer, UsersCollection, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: user %q", ErrNotFound, name)
		}
		return fmt.Errorf("auth: delete user %q: %w", name, err)
	}
	return s.revokeTokens(ctx, name)
}

func (s *Service) revokeTokens(ctx context.Context, name string) error {
	sel, err := query.CompileSelector(map[string]any{"userId": name})
	if err != nil {
		return err
	}
	if _, err := s.st.DeleteMany(ctx, SystemLayer, TokensCollection, sel); err != nil {
		return fmt.Errorf("auth: revoke tokens of %q: %w", name, err)
	}
	return nil
}

// Session is a login token as returned by Login and Renew.
type Session struct {
	// UserID is the user name.
	UserID string `json:"userId"`
	// Token is the secret to send as X-Auth-Token.
	Token string `json:"authToken"`
	// Expires is when the token stops working.
	Expires time.Time `json:"tokenExpires"`
}

// Login checks a user's password and issues a token. user may be the user
// name or e-mail address (the seed's "ID, name or email": a user's ID is its name).
func (s *Service) Login(ctx context.Context, user, password string) (*Session, error) {
	d, err := s.findLogin(ctx, user)
	if err != nil {
		// Spend the time of a bcrypt comparison anyway, so that timing does
		// not tell which user names exist.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, err
	}
	hash, _ := d[fieldPasswordHash].(string)
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return nil, fmt.Errorf("%w: wrong user or password", ErrUnauthorized)
	}
	id, _ := d["_id"].(string)
	s.sweepTokens(ctx)
	return s.issue(ctx, id)
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.MinCost)

func (s *Service) findLogin(ctx context.Context, user string) (store.Document, error) {
	if user == "" {
		return nil, fmt.Errorf("%w: wrong user or password", ErrUnauthorized)
	}
	if d, err := s.st.Get(ctx, SystemLayer, UsersCollection, user); err == nil {
		return d, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("auth: login: %w", err)
	}
	sel, err := query.CompileSelector(map[string]any{"email": user})
	if err != nil {
		return nil, err
	}
	docs, err := s.st.Find(ctx, SystemLayer, UsersCollection, store.FindOptions{Selector: sel, Limit: 2})
	if err != nil {
		return nil, fmt.Errorf("auth: login: %w", err)
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%w: wrong user or password", ErrUnauthorized)
	}
	return docs[0], nil
}

func (s *Service) issue(ctx context.Context, user string) (*Session, error) {
	tok := randomString(32)
	now := s.opts.Now().UTC()
	exp := now.Add(s.opts.TokenTTL)
	doc := store.Document{"_id": hashSecret(tok), "userId": user, "createdAt": now, "expires": exp}
	if err := s.insertOne(ctx, TokensCollection, doc); err != nil {
		return nil, fmt.Errorf("auth: store token: %w", err)
	}
	return &Session{UserID: user, Token: tok, Expires: exp}, nil
}

// sweepTokens deletes expired tokens; failures are only logged.
func (s *Service) sweepTokens(ctx context.Context) {
	sel, err := query.CompileSelector(map[string]any{"expires": map[string]any{"$lt": s.opts.Now().UTC()}})
	if err == nil {
		_, err = s.st.DeleteMany(ctx, SystemLayer, TokensCollection, sel)
	}
	if err != nil {
		s.log.Warn("auth: delete expired tokens", "err", err)
	}
}

// Renew replaces the principal's login token by a new one with a fresh
// expiry; the old token stops working.
func (s *Service) Renew(ctx context.Context, p *Principal) (*Session, error) {
	if p == nil || p.Kind != KindUser || p.TokenHash == "" {
		return nil, fmt.Errorf("%w: only users who logged in have a token to renew", ErrForbidden)
	}
	sess, err := s.issue(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if err := s.st.DeleteByID(ctx, SystemLayer, TokensCollection, p.TokenHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("auth: revoke old token: %w", err)
	}
	return sess, nil
}

// Logout revokes the principal's login token.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil || p.Kind != KindUser || p.TokenHash == "" {
		return fmt.Errorf("%w: only users who logged in can log out", ErrForbidden)
	}
	if err := s.st.DeleteByID(ctx, SystemLayer, TokensCollection, p.TokenHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

// Authenticate checks credentials: a user name with a login token, or an
// appId with its keyId. Empty id and secret give the anonymous principal.
func (s *Service) Authenticate(ctx context.Context, id, secret string) (*Principal, error) {
	if id == "" && secret == "" {
		return Anonymous(s.opts.Anonymous), nil
	}
	if id == "" || secret == "" {
		return nil, fmt.Errorf("%w: send both X-User-ID and X-Auth-Token (or appId and keyId)", ErrUnauthorized)
	}
	h := hashSecret(secret)
	tok, err := s.st.Get(ctx, SystemLayer, TokensCollection, h)
	switch {
	case err == nil:
		if uid, _ := tok["userId"].(string); uid != id {
			return nil, fmt.Errorf("%w: the token does not belong to user %q", ErrUnauthorized, id)
		}
		if exp, ok := asTime(tok["expires"]); !ok || !s.opts.Now().Before(exp) {
			_ = s.st.DeleteByID(ctx, SystemLayer, TokensCollection, h)
			return nil, fmt.Errorf("%w: the token has expired; log in again", ErrUnauthorized)
		}
		d, err := s.userDoc(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: user %q no longer exists", ErrUnauthorized, id)
		} else if err != nil {
			return nil, err
		}
		admin, _ := d["admin"].(bool)
		return &Principal{ID: id, Kind: KindUser, Admin: admin, Grants: grantsFromDoc(d["grants"]), TokenHash: h}, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("auth: authenticate: %w", err)
	}
	app, err := s.st.Get(ctx, SystemLayer, AppsCollection, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown or expired credentials", ErrUnauthorized)
	} else if err != nil {
		return nil, fmt.Errorf("auth: authenticate: %w", err)
	}
	want, _ := app[fieldKeyHash].(string)
	if subtle.ConstantTimeCompare([]byte(want), []byte(h)) != 1 {
		return nil, fmt.Errorf("%w: unknown or expired credentials", ErrUnauthorized)
	}
	return &Principal{ID: id, Kind: KindApp, Grants: grantsFromDoc(app["grants"])}, nil
}

// App is an application credential as the API shows it (no key hash).
type App struct {
	// ID is the appId.
	ID string `json:"_id"`
	// Name says what the app is.
	Name string `json:"name"`
	// Grants maps layer ids (and "fs:<bucket>") to permissions.
	Grants map[string]Perm `json:"grants"`
	// Created is when the app was added.
	Created time.Time `json:"createdAt"`
	// CreatedBy is the admin who added it.
	CreatedBy string `json:"createdBy,omitempty"`
}

// NewApp is what AddApp needs.
type NewApp struct {
	// Name says what the app is.
	Name string `json:"name"`
	// Grants are the app's permissions. Apps are never admins.
	Grants map[string]Perm `json:"grants,omitempty"`
}

// AppKey is a new application credential: the only time keyId is shown.
type AppKey struct {
	// AppID is the appId (X-User-ID).
	AppID string `json:"appId"`
	// KeyID is the secret (X-Auth-Token).
	KeyID string `json:"keyId"`
	// App describes the app.
	App *App `json:"app"`
}

// AddApp creates an application credential; by is the admin's name.
func (s *Service) AddApp(ctx context.Context, a NewApp, by string) (*AppKey, error) {
	if err := CheckGrants(a.Grants); err != nil {
		return nil, err
	}
	if a.Name == "" {
		return nil, fmt.Errorf("%w: an app needs a name", ErrInvalid)
	}
	id, key := randomID(), randomString(32)
	doc := store.Document{"_id": id, "name": a.Name, fieldKeyHash: hashSecret(key),
		"grants": grantsDoc(a.Grants), "createdAt": s.opts.Now().UTC(), "createdBy": by}
	if err := s.insertOne(ctx, AppsCollection, doc); err != nil {
		return nil, fmt.Errorf("auth: add app: %w", err)
	}
	return &AppKey{AppID: id, KeyID: key, App: appFromDoc(doc)}, nil
}

// Apps lists the application credentials.
func (s *Service) Apps(ctx context.Context) ([]App, error) {
	docs, err := s.st.Find(ctx, SystemLayer, AppsCollection, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("auth: list apps: %w", err)
	}
	out := make([]App, 0, len(docs))
	for _, d := range docs {
		out = append(out, *appFromDoc(d))
	}
	return out, nil
}

// DeleteApp revokes an application credential.
func (s *Service) DeleteApp(ctx context.Context, id string) error {
	if err := s.st.DeleteByID(ctx, SystemLayer, AppsCollection, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: app %q", ErrNotFound, id)
		}
		return fmt.Errorf("auth: delete app %q: %w", id, err)
	}
	return nil
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

func appFromDoc(d store.Document) *App {
	a := &App{Grants: grantsFromDoc(d["grants"])}
	a.ID, _ = d["_id"].(string)
	a.Name, _ = d["name"].(string)
	a.CreatedBy, _ = d["createdBy"].(string)
	a.Created, _ = asTime(d["createdAt"])
	return a
}

func grantsDoc(g map[string]Perm) map[string]any {
	out := make(map[string]any, len(g))
	for _, k := range slices.Sorted(maps.Keys(g)) {
		if g[k] != None {
			out[k] = g[k].String()
		}
	}
	return out
}

func grantsFromDoc(v any) map[string]Perm {
	out := map[string]Perm{}
	m, _ := v.(map[string]any)
	for k, pv := range m {
		s, _ := pv.(string)
		if p, err := ParsePerm(s); err == nil && p != None {
			out[k] = p
		}
	}
	return out
}

// asTime reads a date as the backends return it (time.Time), or as
// RFC 3339 text or Extended JSON {"$date": …}.
func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t, err == nil
	case map[string]any:
		return asTime(x["$date"])
	}
	return time.Time{}, false
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

// randomID returns a Meteor-style 17-character id.
func randomID() string {
	b := make([]byte, 17)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// randomString returns a random secret: n random bytes as hex, or, for
// n <= 16, crypto/rand.Text (26 base-32 characters, easy to type).
func randomString(n int) string {
	if n <= 16 {
		return rand.Text()
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
