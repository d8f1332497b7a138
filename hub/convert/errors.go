package convert

import "errors"

// Sentinel errors; errors returned by this package wrap one of them.
var (
	// ErrNotFound is returned when no transformation has the id.
	ErrNotFound = errors.New("converter not found")
	// ErrInvalid is returned when a transformation document is malformed
	// (neither template nor code, a function that does not compile, a call
	// to an undefined function).
	ErrInvalid = errors.New("invalid converter")
	// ErrScript is returned when JavaScript throws or returns something
	// that is not JSON data.
	ErrScript = errors.New("converter script failed")
	// ErrTimeout is returned when a call ran longer than Limits.Timeout.
	ErrTimeout = errors.New("converter call exceeded its time budget")
	// ErrMemory is returned when a call allocated more than
	// Limits.MaxAllocBytes, or a built-in was asked for more than
	// MaxArrayLength elements or MaxStringLength characters.
	ErrMemory = errors.New("converter call exceeded its memory budget")
	// ErrTooLarge is returned when the input or the output is larger than
	// its limit.
	ErrTooLarge = errors.New("converter input or output too large")
)
