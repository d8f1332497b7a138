package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"
)

// Maintained fields of every document.
const (
	// FieldID is the document id.
	FieldID = "_id"
	// FieldUpdated is the time of the last write.
	FieldUpdated = "_updated"
	// FieldExpired marks expired documents.
	FieldExpired = "_expired"
)

var (
	idCounter atomic.Uint32
	idProcess [5]byte
)

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	copy(idProcess[:], b[:5])
	idCounter.Store(binary.BigEndian.Uint32(b[4:]))
}

// NewID returns a new document or file id: 24 hex digits laid out like a
// MongoDB ObjectID (4 bytes of seconds, 5 random bytes per process, a
// 3-byte counter), so ids sort roughly by creation time on both backends.
func NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	copy(b[4:9], idProcess[:])
	c := idCounter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// DocID returns the document's _id: "" when absent, an ErrInvalid error
// when it is not a non-empty string.
func DocID(doc Document) (string, error) {
	v, ok := doc[FieldID]
	if !ok || v == nil {
		return "", nil
	}
	id, ok := v.(string)
	if !ok || id == "" {
		return "", fmt.Errorf("%w: _id must be a non-empty string, not %T %v", ErrInvalid, v, v)
	}
	return id, nil
}

// PrepareInsert returns the document to store for an insert: checked with
// CheckDocument (no internal field but _id and _expired), normalised, with
// an _id (generated when absent), _updated = now and _expired false unless
// given. The id is returned too (also on error when known).
func PrepareInsert(doc Document, now time.Time) (Document, string, error) {
	id, err := DocID(doc)
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		id = NewID()
	}
	if err := CheckDocument(doc); err != nil {
		return nil, id, fmt.Errorf("document %q: %w", id, err)
	}
	n, err := Normalize(doc)
	if err != nil {
		return nil, id, fmt.Errorf("document %q: %w", id, err)
	}
	out := n.(map[string]any)
	out[FieldID] = id
	out[FieldUpdated] = Timestamp(now)
	if _, ok := out[FieldExpired]; !ok {
		out[FieldExpired] = false
	}
	return out, id, nil
}
