package prophet

import "errors"

var (
	// ErrNotFitted is returned by Predict and MarshalJSON when the model has
	// not been fitted (or loaded) yet.
	ErrNotFitted = errors.New("model is not fitted")
	// ErrAlreadyFitted is returned by Fit when the model was already fitted:
	// Prophet objects are fitted once; make a new one to refit.
	ErrAlreadyFitted = errors.New("model is already fitted")
	// ErrTooFewRows is returned by Fit when the history has fewer than two
	// rows with a value of y.
	ErrTooFewRows = errors.New("history has fewer than two rows with y")
	// ErrMissingColumn is returned when a column the model needs (cap,
	// a regressor, a seasonality condition) is absent or has the wrong length.
	ErrMissingColumn = errors.New("missing column")
	// ErrInvalidOptions is returned by Validate and New when an option is out
	// of range.
	ErrInvalidOptions = errors.New("invalid options")
)
