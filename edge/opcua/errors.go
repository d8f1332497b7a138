package opcua

import "errors"

// Errors callers tell apart with errors.Is.
var (
	// ErrUntrustedServer is returned when the server's certificate is not
	// in the trusted list, not signed by the configured CA, expired, or not
	// a certificate at all: the connection is refused before a session.
	ErrUntrustedServer = errors.New("server certificate not trusted")
	// ErrNoEndpoint is returned when the server offers no endpoint with the
	// configured security policy and mode.
	ErrNoEndpoint = errors.New("server offers no matching endpoint")
	// ErrNoIdentity is returned when the chosen endpoint accepts no user
	// token of the configured identity type.
	ErrNoIdentity = errors.New("endpoint does not accept the identity")
	// ErrBadNode is returned when a node id does not parse or the server
	// answers a node's read or write with a bad status.
	ErrBadNode = errors.New("bad node")
)
