package forecast

import "errors"

var (
	// ErrNotFound is returned when no model has the id.
	ErrNotFound = errors.New("no such model")
	// ErrBusy is returned by Train and Forecast while the model is training.
	ErrBusy = errors.New("model is training")
	// ErrNotTrained is returned by Forecast when the model is untrained or
	// its last training failed.
	ErrNotTrained = errors.New("model is not trained")
	// ErrInvalid is returned for malformed parameters (MODEL_PARAMS,
	// TRAIN_PARAMS, FORECAST_PARAMS, input stages, freq).
	ErrInvalid = errors.New("invalid parameters")
	// ErrQueueFull is returned by Train when the worker pool's queue is full.
	ErrQueueFull = errors.New("training queue is full")
	// ErrStage is returned when an input stage fails (query, request, mapping).
	ErrStage = errors.New("input stage failed")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("forecast service is closed")
)
