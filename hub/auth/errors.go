package auth

import (
	"errors"
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
