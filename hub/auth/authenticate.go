package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// Authenticate checks credentials: a user name with a login token, or an
// appId with its keyId. Empty id and secret give the anonymous principal.
// Verified credentials are cached (Options.CacheTTL), so a known token
// costs no store read; failures are never cached.
func (s *Service) Authenticate(ctx context.Context, id, secret string) (*Principal, error) {
	if id == "" && secret == "" {
		return Anonymous(s.opts.Anonymous), nil
	}
	if id == "" || secret == "" {
		return nil, fmt.Errorf("%w: send both X-User-ID and X-Auth-Token (or appId and keyId)", ErrUnauthorized)
	}
	h := hashSecret(secret)
	now := s.opts.Now()
	p, gen := s.cache.get(id, h, now)
	if p != nil {
		return p, nil
	}
	tok, err := s.st.Get(ctx, SystemLayer, TokensCollection, h)
	switch {
	case err == nil:
		if uid, _ := tok["userId"].(string); uid != id {
			return nil, fmt.Errorf("%w: the token does not belong to user %q", ErrUnauthorized, id)
		}
		exp, ok := asTime(tok["expires"])
		if !ok || !now.Before(exp) {
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
		p := &Principal{ID: id, Kind: KindUser, Admin: admin, Grants: grantsFromDoc(d["grants"]), TokenHash: h}
		s.cache.put(id, h, p, exp, now, gen)
		return p, nil
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
	p = &Principal{ID: id, Kind: KindApp, Grants: grantsFromDoc(app["grants"])}
	s.cache.put(id, h, p, time.Time{}, now, gen)
	return p, nil
}
