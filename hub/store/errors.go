package store

import "errors"

// Sentinel errors; backends wrap them so callers decide with errors.Is.
var (
	// ErrNotFound: the layer, collection or document does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a document with that _id exists already.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request is malformed (bad name, bad document).
	ErrInvalid = errors.New("invalid")
	// ErrUnmatched: a conditional update found the document no longer
	// matching its condition (another write changed it first).
	ErrUnmatched = errors.New("document no longer matches the update's condition")
)

// IsDocumentError reports whether err fails only one document of a
// multi-document write (an invalid document, a conflicting or a missing
// _id), so that the backend records it in the WriteResult and goes on with
// the others; any other error aborts the write.
func IsDocumentError(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)
}
