package history

import (
	"errors"
	"fmt"
)

// Errors returned by the package; callers test them with errors.Is.
var (
	// ErrInvalid is returned for a query or a sample that cannot be
	// served or stored as given (bad aggregation, empty names, from after to).
	ErrInvalid = errors.New("invalid history request")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("history store closed")
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
