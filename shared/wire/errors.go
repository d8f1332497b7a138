package wire

import "errors"

// Sentinel errors; decoding errors wrap one of them with what was being read.
var (
	// ErrTruncated is returned when the data ends inside an item.
	ErrTruncated = errors.New("truncated")
	// ErrVersion is returned for an update or batch of an unknown version,
	// or a batch without the magic bytes.
	ErrVersion = errors.New("unknown format version")
	// ErrUnknownID is returned when an update refers to a string id that
	// the batch's dictionary does not list.
	ErrUnknownID = errors.New("string id not in the dictionary")
	// ErrCount is returned when a batch's number of updates does not match
	// its sequence range.
	ErrCount = errors.New("update count does not match the sequence range")
	// ErrInvalid is returned for malformed content: an unknown value kind,
	// a non-finite float, a string that is not UTF-8, a time JSON cannot
	// carry, trailing bytes, a dictionary id listed twice.
	ErrInvalid = errors.New("invalid content")
	// ErrUnsupported is returned by the encoder for values JSON cannot
	// encode either (NaN, ±Inf, years outside 0–9999).
	ErrUnsupported = errors.New("unsupported value")
)
