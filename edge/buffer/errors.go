package buffer

import "errors"

var (
	// ErrFull is returned by Append under the reject-new policy when the
	// queue is full.
	ErrFull = errors.New("buffer full")
	// ErrCorrupt is returned when the buffer file cannot be read because it
	// is damaged (bbolt reports an invalid file, a version mismatch, a
	// checksum error or a file too small, or panics reading it). Open does
	// not return it: it moves such a file aside and starts a fresh one.
	ErrCorrupt = errors.New("buffer file is corrupt")
)
