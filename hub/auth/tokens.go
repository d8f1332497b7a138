// Login tokens: documents of system/tokens, _id = SHA-256 of the token,
// issued by Login and Renew, revoked by Logout, password changes and user
// deletion, and swept when expired.

package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

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

// AccountKey names the account a login for user (a user name, which is
// the user's id, or an e-mail address) is made against: the user's id when
// the user exists, otherwise user in lower case. Login throttles count
// failures per AccountKey, so the name and the e-mail address of one user
// share one budget.
func (s *Service) AccountKey(ctx context.Context, user string) string {
	if d, err := s.findLogin(ctx, user); err == nil {
		if id, ok := d["_id"].(string); ok && id != "" {
			return id
		}
	}
	return strings.ToLower(user)
}

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
	err = s.st.DeleteByID(ctx, SystemLayer, TokensCollection, p.TokenHash)
	s.cache.drop(KindUser, p.ID, p.TokenHash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("auth: revoke old token: %w", err)
	}
	return sess, nil
}

// Logout revokes the principal's login token.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil || p.Kind != KindUser || p.TokenHash == "" {
		return fmt.Errorf("%w: only users who logged in can log out", ErrForbidden)
	}
	err := s.st.DeleteByID(ctx, SystemLayer, TokensCollection, p.TokenHash)
	s.cache.drop(KindUser, p.ID, p.TokenHash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

func (s *Service) revokeTokens(ctx context.Context, name string) error {
	sel, err := query.CompileSelector(map[string]any{"userId": name})
	if err != nil {
		return err
	}
	_, err = s.st.DeleteMany(ctx, SystemLayer, TokensCollection, sel)
	s.cache.drop(KindUser, name, "")
	if err != nil {
		return fmt.Errorf("auth: revoke tokens of %q: %w", name, err)
	}
	return nil
}
