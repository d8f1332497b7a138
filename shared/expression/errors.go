package expression

import (
	"errors"
	"fmt"
)

// Sentinel errors. Evaluation errors wrap one of them, so callers can tell
// them apart with errors.Is; the first four correspond to the JavaScript
// exception the reference implementation would throw.
var (
	// ErrTypeError: a transform was applied to a value of the wrong type
	// (JavaScript TypeError, e.g. "str.replace is not a function").
	ErrTypeError = errors.New("TypeError")
	// ErrRangeError: a value is out of range (JavaScript RangeError, e.g.
	// toisodate of an invalid date, tofixed with more than 100 digits).
	ErrRangeError = errors.New("RangeError")
	// ErrSyntaxError: jsonparse input or a replaceregexp pattern is invalid
	// (JavaScript SyntaxError at evaluation time; expression syntax errors
	// are reported by Compile as *SyntaxError instead).
	ErrSyntaxError = errors.New("SyntaxError")
	// ErrURIError: urldecode/urlencode input is malformed (JavaScript URIError).
	ErrURIError = errors.New("URIError")
	// ErrLimit: the expression exceeded a resource limit (string or array
	// size, nesting); there is no JavaScript equivalent.
	ErrLimit = errors.New("limit exceeded")
	// ErrUnknownTransform: the expression calls a transform that does not
	// exist. Returned by Compile inside a *SyntaxError.
	ErrUnknownTransform = errors.New("unknown transform")
)

// errInternal marks a bug in this package (a recovered panic or a program
// expr-lang refused); the fuzz test looks for it.
var errInternal = errors.New("internal error")

// SyntaxError is returned by Compile for an expression that cannot be parsed.
type SyntaxError struct {
	// Pos is the 0-based byte offset in the source where the problem is.
	Pos int
	// Msg describes the problem.
	Msg string
	// Err is an optional sentinel (ErrUnknownTransform, ErrLimit).
	Err error
}

// Error implements error: "expression: <msg> at position N".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("expression: %s at position %d", e.Msg, e.Pos)
}

// Unwrap returns the sentinel error, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// EvalError is returned by Eval when evaluation fails where the JavaScript
// implementation would throw.
type EvalError struct {
	// Pos is the 0-based byte offset of the operator or transform that failed.
	Pos int
	// Msg describes the problem.
	Msg string
	// Err is the underlying error; it wraps one of the sentinel errors.
	Err error
}

// Error implements error: "expression: <msg> at position N".
func (e *EvalError) Error() string {
	return fmt.Sprintf("expression: %s at position %d", e.Msg, e.Pos)
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }

// jsError is an exception the JavaScript implementation would throw.
type jsError struct {
	kind error
	msg  string
}

func (e *jsError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *jsError) Unwrap() error { return e.kind }

func jsErrorf(kind error, format string, args ...any) error {
	return &jsError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func errLimit(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrLimit}, args...)...)
}

// notAFunction is the TypeError JavaScript throws when a method is called
// on a value that does not have it.
func notAFunction(expr string) error {
	return jsErrorf(ErrTypeError, "%s is not a function", expr)
}
