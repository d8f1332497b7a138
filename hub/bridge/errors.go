package bridge

import "errors"

// Sentinel errors; errors returned by this package wrap one of them.
var (
	// ErrBadMessage is returned by Inbound for a message that can never be
	// stored: not JSON, not an object or array of objects, a document
	// without _id, a converter that fails or returns something else.
	ErrBadMessage = errors.New("bad bridge message")
)
