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
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/store"
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
	// CacheTTL is how long Authenticate trusts verified credentials
	// without reading the store again (default DefaultCacheTTL; negative
	// disables the cache). Changes made through this Service take effect
	// at once; the TTL bounds how long a change made by another hub
	// sharing the store goes unnoticed.
	CacheTTL time.Duration
}

// Service authenticates principals and manages users, tokens and apps.
type Service struct {
	st    store.Store
	opts  Options
	log   *slog.Logger
	cache *credCache
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
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	return &Service{st: st, opts: opts, log: opts.Logger, cache: newCredCache(opts.CacheTTL)}
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
	if _, err := s.AddUser(ctx, NewUser{Name: AdminUser, Password: password, Admin: true}); errors.Is(err, ErrExists) {
		// another hub replica on the same store created it meanwhile
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	s.log.Info("created the admin user", "user", AdminUser)
	return generated, nil
}
