package auth

import "errors"

// Sentinel errors, wrapped with context; callers decide with errors.Is.
var (
	// ErrUnauthorized is returned when credentials are missing, wrong,
	// expired or revoked.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden is returned when valid credentials do not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound is returned when no user or app has the given id.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when a user or app with that id exists already.
	ErrExists = errors.New("already exists")
	// ErrInvalid is returned for a malformed user name, password,
	// permission or grant.
	ErrInvalid = errors.New("invalid")
)
