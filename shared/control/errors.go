package control

import (
	"errors"
	"fmt"
)

// Error codes of replies, Error.Code. They are stable: scripts and the CLI
// decide on them.
const (
	// CodeBadRequest: the request body is not valid JSON of the action's type,
	// or a field is missing or out of range.
	CodeBadRequest = "bad_request"
	// CodeInvalidSettings: the SETTINGS document does not validate; Details
	// list every problem, as at the agent's start.
	CodeInvalidSettings = "invalid_settings"
	// CodeUnsigned: a push or rollback without a signature.
	CodeUnsigned = "unsigned"
	// CodeBadSignature: the signature does not match the request.
	CodeBadSignature = "bad_signature"
	// CodeUntrustedKey: signed by a key the edge does not trust.
	CodeUntrustedKey = "untrusted_key"
	// CodeExpired: the request's issuedAt is too old or in the future.
	CodeExpired = "expired"
	// CodeWrongEdge: the request names another edge.
	CodeWrongEdge = "wrong_edge"
	// CodeNoPrevious: map.rollback without a kept previous map.
	CodeNoPrevious = "no_previous"
	// CodeBusy: another push or rollback is in progress on the edge.
	CodeBusy = "busy"
	// CodeNotFound: no such slave, variable or edge.
	CodeNotFound = "not_found"
	// CodeNotWritable: the variable is not "writable": true.
	CodeNotWritable = "not_writable"
	// CodeOutOfRange: the value is outside the variable's min and max, or
	// cannot be encoded in its datatype.
	CodeOutOfRange = "out_of_range"
	// CodeRateLimited: writes to the variable come faster than allowed.
	CodeRateLimited = "rate_limited"
	// CodeModbus: the device answered with an exception or did not answer.
	CodeModbus = "modbus"
	// CodeInternal: the agent or hub failed (e.g. could not persist the map).
	CodeInternal = "internal"
)

// Error is the error of a reply.
type Error struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
	// Details list individual problems (e.g. every SETTINGS validation error).
	Details []string `json:"details,omitempty"`
}

// Error implements error: "<code>: <message>".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error: itself when it is (or wraps) one,
// otherwise an *Error with code and err's text.
func AsError(err error, code string) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: code, Message: err.Error()}
}
