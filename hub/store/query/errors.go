package query

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers (REST handlers, DDP methods) can map them to a 400 with
// errors.Is and still show the detailed message.
var (
	// ErrBadSelector reports a selector that is not valid MongoDB query syntax
	// or uses an operator this package does not support.
	ErrBadSelector = errors.New("bad selector")
	// ErrBadSort reports a sort specification that cannot be parsed.
	ErrBadSort = errors.New("bad sort")
	// ErrBadProjection reports an invalid or unsupported projection.
	ErrBadProjection = errors.New("bad projection")
	// ErrBadUpdate reports an invalid update document or an update that cannot
	// be applied to the given document (for example $inc on a string).
	ErrBadUpdate = errors.New("bad update")
)

// selErr builds an ErrBadSelector error naming the path where it occurred.
func selErr(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg += fmt.Sprintf(" at %q", path)
	}
	return fmt.Errorf("%w: %s", ErrBadSelector, msg)
}

func sortErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSort, fmt.Sprintf(format, args...))
}

func projErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadProjection, fmt.Sprintf(format, args...))
}

// updErr builds an ErrBadUpdate error naming the field it concerns.
func updErr(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg += fmt.Sprintf(" at %q", field)
	}
	return fmt.Errorf("%w: %s", ErrBadUpdate, msg)
}

var errInvalidDate = errors.New(`$date needs an RFC 3339 string, milliseconds or {"$numberLong": "<ms>"}`)
