package ingest

import "errors"

// Reasons a batch is moved to the dead-letter stream, besides a malformed
// or unappliable batch; callers tell them apart with errors.Is on the
// reason, and the applier counts each in Stats and EdgeStats.
var (
	// ErrSequenceJump is returned when a batch starts implausibly far above
	// the edge's high-water mark (more than Options.MaxSeqJump): applied, it
	// would make every later real batch of the edge a skipped replay.
	ErrSequenceJump = errors.New("sequence jump")
	// ErrNotAllowed is returned when a batch writes to a layer or collection
	// outside the edge's allow-list (Options.Allowed).
	ErrNotAllowed = errors.New("not allowed for this edge")
)
