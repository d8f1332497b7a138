package weather

import "errors"

var (
	// ErrInvalid is returned when a query or the config is wrong: a
	// missing cityName, no or several query options, a bad number, hours
	// out of 1..48.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound is returned when the provider knows no such place.
	ErrNotFound = errors.New("location not found")
	// ErrProvider is returned when the provider cannot be reached or
	// answers with an error or a body that is not its documented shape.
	ErrProvider = errors.New("weather provider failed")
)
