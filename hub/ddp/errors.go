package ddp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Error is a Meteor.Error as DDP carries it in result and nosub messages.
type Error struct {
	// Code is the error code: an HTTP-like status (400, 401, 403, 404,
	// 409, 500).
	Code int
	// Reason is the human-readable explanation.
	Reason string
	// RetryAfter, when positive, is how long a throttled caller must wait
	// (sent as details.timeToReset in milliseconds, as Meteor's
	// DDPRateLimiter does).
	RetryAfter time.Duration
}

// Errorf returns an Error with a formatted reason.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Error is the message Meteor.Error builds: "<reason> [<code>]".
func (e *Error) Error() string { return e.Reason + " [" + strconv.Itoa(e.Code) + "]" }

// object is the error's wire form, with Meteor's fields.
func (e *Error) object() map[string]any {
	o := map[string]any{"error": e.Code, "reason": e.Reason, "message": e.Error(),
		"errorType": "Meteor.Error", "isClientSafe": true}
	if e.RetryAfter > 0 {
		o["details"] = map[string]any{"timeToReset": e.RetryAfter.Milliseconds()}
	}
	return o
}

// throttled is the error of a refused request: 429, with the wait.
func throttled(reason string, wait time.Duration) *Error {
	secs := int(math.Ceil(wait.Seconds()))
	return &Error{Code: 429, Reason: fmt.Sprintf("%s; retry in %d s", reason, secs), RetryAfter: wait}
}

// errInternal is what a client sees of an unexpected failure: no details.
var errInternal = &Error{Code: 500, Reason: "Internal server error"}

// errLogin is the one answer to every failed login, so that it does not
// tell which user names exist.
var errLogin = &Error{Code: 403, Reason: "Login forbidden: wrong user or password"}

// toError maps an error to the Meteor.Error a client may see; internal
// says whether it was unexpected (and so must be logged).
func toError(err error) (e *Error, internal bool) {
	var de *Error
	switch {
	case errors.As(err, &de):
		return de, de.Code >= 500
	case errors.Is(err, auth.ErrUnauthorized):
		return &Error{Code: 401, Reason: err.Error()}, false
	case errors.Is(err, auth.ErrForbidden):
		return &Error{Code: 403, Reason: err.Error()}, false
	case errors.Is(err, store.ErrNotFound), errors.Is(err, auth.ErrNotFound):
		return &Error{Code: 404, Reason: err.Error()}, false
	case errors.Is(err, store.ErrConflict), errors.Is(err, auth.ErrExists):
		return &Error{Code: 409, Reason: err.Error()}, false
	case errors.Is(err, store.ErrInvalid), errors.Is(err, auth.ErrInvalid), errors.Is(err, query.ErrBadSelector),
		errors.Is(err, query.ErrBadUpdate), errors.Is(err, query.ErrBadSort), errors.Is(err, query.ErrBadProjection):
		return &Error{Code: 400, Reason: err.Error()}, false
	}
	return errInternal, true
}
