// Logins as Meteor's accounts packages make them over DDP: a resume token
// alone, and a password sent as its SHA-256 digest.
//
// The hub keeps a bcrypt hash of the password; a client that sends only
// sha256(password) cannot be checked against it, so the user document also
// keeps a bcrypt hash of the digest (passwordDigest), with the password
// hash it was made for (passwordDigestOf): changing the password makes the
// old digest hash stale at once. It is written on AddUser, on a password
// change and on each plain-password login that finds it missing or stale.

package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/store"
)

// Secret attributes of a user document that hold the digest hash.
const (
	fieldPasswordDigest   = "passwordDigest"
	fieldPasswordDigestOf = "passwordDigestOf"
)

// PasswordDigest returns the digest Meteor clients send for a password:
// lower-case hex SHA-256.
func PasswordDigest(password string) string {
	h := sha256.Sum256([]byte(password))
	return hex.EncodeToString(h[:])
}

// Resume checks a login token given alone (Meteor's {resume: token}) and
// returns its principal and session.
func (s *Service) Resume(ctx context.Context, token string) (*Principal, *Session, error) {
	if token == "" {
		return nil, nil, fmt.Errorf("%w: empty resume token", ErrUnauthorized)
	}
	tok, err := s.st.Get(ctx, SystemLayer, TokensCollection, hashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: unknown or expired token", ErrUnauthorized)
	} else if err != nil {
		return nil, nil, fmt.Errorf("auth: resume: %w", err)
	}
	uid, _ := tok["userId"].(string)
	p, err := s.Authenticate(ctx, uid, token)
	if err != nil {
		return nil, nil, err
	}
	exp, _ := asTime(tok["expires"])
	return p, &Session{UserID: uid, Token: token, Expires: exp}, nil
}

// LoginDigest logs a user in with the SHA-256 digest of the password (hex,
// as Meteor's accounts-password sends it). It works once the hub knows the
// digest hash of the current password (see the file comment).
func (s *Service) LoginDigest(ctx context.Context, user, digest string) (*Session, error) {
	digest = strings.ToLower(digest)
	d, err := s.findLogin(ctx, user)
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(digest))
		return nil, err
	}
	dh, _ := d[fieldPasswordDigest].(string)
	of, _ := d[fieldPasswordDigestOf].(string)
	ph, _ := d[fieldPasswordHash].(string)
	if dh == "" || subtle.ConstantTimeCompare([]byte(of), []byte(ph)) != 1 {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(digest))
		return nil, fmt.Errorf("%w: wrong user or password", ErrUnauthorized)
	}
	if bcrypt.CompareHashAndPassword([]byte(dh), []byte(digest)) != nil {
		return nil, fmt.Errorf("%w: wrong user or password", ErrUnauthorized)
	}
	id, _ := d["_id"].(string)
	s.sweepTokens(ctx)
	return s.issue(ctx, id)
}

// RememberDigest stores the digest hash of a user's password, which the
// caller has just verified, unless the one stored is current.
func (s *Service) RememberDigest(ctx context.Context, user, password string) error {
	d, err := s.userDoc(ctx, user)
	if err != nil {
		return err
	}
	of, _ := d[fieldPasswordDigestOf].(string)
	ph, _ := d[fieldPasswordHash].(string)
	if of == ph && d[fieldPasswordDigest] != nil {
		return nil
	}
	return s.setDigest(ctx, user, password, ph)
}

// setDigest writes the digest hash of password, made for the password hash ph.
func (s *Service) setDigest(ctx context.Context, user, password, ph string) error {
	dh, err := bcrypt.GenerateFromPassword([]byte(PasswordDigest(password)), s.opts.BcryptCost)
	if err != nil {
		return fmt.Errorf("auth: hash password digest: %w", err)
	}
	_, err = s.st.UpdateByID(ctx, SystemLayer, UsersCollection, user,
		map[string]any{"$set": map[string]any{fieldPasswordDigest: string(dh), fieldPasswordDigestOf: ph}})
	if err != nil {
		return fmt.Errorf("auth: store the password digest of %q: %w", user, err)
	}
	return nil
}
