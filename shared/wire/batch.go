package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gridedge/gridedge/shared/model"
)

// magic starts every binary batch; a JSON batch starts with '{'.
var magic = []byte{0xC7, 'G', 'W'}

// IsBatch reports whether data starts like a binary batch.
func IsBatch(data []byte) bool { return bytes.HasPrefix(data, magic) }

// AppendBatch appends the batch of edge whose updates, encoded by
// [AppendUpdate], have sequence numbers first, first+1, …; it adds the
// dictionary entries they use, looked up in strs. The updates are copied,
// not decoded.
func AppendBatch(dst []byte, edge string, first uint64, updates [][]byte, strs Strings) ([]byte, error) {
	if len(updates) == 0 {
		return dst, fmt.Errorf("batch of edge %s: no updates", edge)
	}
	seen := map[uint64]bool{}
	var ids []uint64
	for i, u := range updates {
		err := Refs(u, func(id uint64) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		})
		if err != nil {
			return dst, fmt.Errorf("batch of edge %s: update seq %d: %w", edge, first+uint64(i), err)
		}
	}
	slices.Sort(ids)
	edge = jsonString(edge)
	dst = append(dst, magic...)
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, uint64(len(edge)))
	dst = append(dst, edge...)
	dst = binary.AppendUvarint(dst, first)
	dst = binary.AppendUvarint(dst, first+uint64(len(updates))-1)
	dst = binary.AppendUvarint(dst, uint64(len(ids)))
	for _, id := range ids {
		s, ok := strs.String(id)
		if !ok {
			return dst, fmt.Errorf("batch of edge %s: string id %d: %w", edge, id, ErrUnknownID)
		}
		dst = binary.AppendUvarint(dst, id)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(updates)))
	for _, u := range updates {
		dst = binary.AppendUvarint(dst, uint64(len(u)))
		dst = append(dst, u...)
	}
	return dst, nil
}

// batchDict is the dictionary carried by a batch.
type batchDict map[uint64]string

func (d batchDict) String(id uint64) (string, bool) {
	s, ok := d[id]
	return s, ok
}

// DecodeBatch decodes a batch written by [AppendBatch]. Its updates are what
// JSON-decoding the JSON batch of the same updates gives. It checks the
// format, not the content: callers run model.Batch.Validate.
func DecodeBatch(data []byte) (model.Batch, error) {
	var b model.Batch
	if !IsBatch(data) {
		return b, fmt.Errorf("batch: no magic bytes % X at the start: %w", magic, ErrVersion)
	}
	r := reader{b: data, off: len(magic)}
	v, err := r.byte("batch version")
	if err != nil {
		return b, fmt.Errorf("batch: %w", err)
	}
	if v != Version {
		return b, fmt.Errorf("batch: version %d (this build reads %d): %w", v, Version, ErrVersion)
	}
	if b.Edge, err = r.str("edge"); err != nil {
		return b, fmt.Errorf("batch: %w", err)
	}
	if b.SeqFirst, err = r.uvarint("seq_first"); err != nil {
		return b, fmt.Errorf("batch: %w", err)
	}
	if b.SeqLast, err = r.uvarint("seq_last"); err != nil {
		return b, fmt.Errorf("batch: %w", err)
	}
	if b.SeqLast < b.SeqFirst {
		return b, fmt.Errorf("batch: seq_last %d before seq_first %d: %w", b.SeqLast, b.SeqFirst, ErrInvalid)
	}
	nd, err := r.uvarint("dictionary size")
	if err != nil {
		return b, fmt.Errorf("batch: %w", err)
	}
	if nd > uint64(len(data)-r.off)/2 {
		return b, fmt.Errorf("batch: %w", r.fail(fmt.Sprintf("dictionary of %d entries", nd), ErrTruncated))
	}
	dict := make(batchDict, nd)
	for range nd {
		id, err := r.uvarint("dictionary id")
		if err != nil {
			return b, fmt.Errorf("batch: %w", err)
		}
		s, err := r.str(fmt.Sprintf("dictionary string %d", id))
		if err != nil {
			return b, fmt.Errorf("batch: %w", err)
		}
		if _, dup := dict[id]; dup {
			return b, fmt.Errorf("batch: dictionary id %d listed twice: %w", id, ErrInvalid)
		}
		dict[id] = s
	}
	n, err := r.uvarint("update count")
	if err != nil {
		return b, fmt.Errorf("batch: %w", err)
	}
	if want := b.SeqLast - b.SeqFirst + 1; want == 0 || n != want {
		return b, fmt.Errorf("batch: %d updates for sequence %d-%d: %w", n, b.SeqFirst, b.SeqLast, ErrCount)
	}
	if n > uint64(len(data)-r.off) {
		return b, fmt.Errorf("batch: %w", r.fail(fmt.Sprintf("%d updates", n), ErrTruncated))
	}
	b.Updates = make([]model.Update, 0, n)
	for i := range n {
		seq := b.SeqFirst + i
		at := r.off
		ud, err := r.lenBytes("update")
		if err != nil {
			return b, fmt.Errorf("batch: update seq %d: %w", seq, err)
		}
		u, err := DecodeUpdate(ud, dict)
		if err != nil {
			return b, fmt.Errorf("batch: update seq %d (at byte %d): %w", seq, at, err)
		}
		b.Updates = append(b.Updates, u)
	}
	if r.off != len(data) {
		return b, fmt.Errorf("batch: %w", r.fail(fmt.Sprintf("%d trailing bytes", len(data)-r.off), ErrInvalid))
	}
	return b, nil
}
