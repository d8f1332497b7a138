package store

import (
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/hub/store/query"
)

// Internal fields. A top-level field whose name starts with "_" belongs to
// the store: the seed (X-FLEX D6.3 3.1.2.2) shows only _id, _updated and
// _expired in documents, and the backends keep their own state in others
// (the mongo backend's per-edge sequence numbers in _seq, guarding the
// ingest applier's upserts). Callers of the Store interface (the REST API)
// may write only _id (on insert; updates cannot change it) and _expired,
// and may select, sort and project only on _id, _updated and _expired.
// The store itself writes its internal fields on its own paths (PrepareInsert,
// the backends' update and ApplyBatch code), after these checks.
const (
	// FieldSeq holds, in a document of the mongo backend, the last sequence
	// number of each edge applied to it (_seq.<edge>); never written or
	// read through the Store interface.
	FieldSeq = "_seq"
)

// isInternal reports whether the top-level field of path is internal.
func isInternal(path string) (top string, internal bool) {
	top, _, _ = strings.Cut(path, ".")
	return top, strings.HasPrefix(top, "_")
}

// CheckWritable returns an ErrInvalid error naming path when a caller may
// not write it: an internal field other than _id and _expired. _id is
// accepted here; changing it is refused by the update rules.
func CheckWritable(path string) error {
	top, internal := isInternal(path)
	if !internal || top == FieldID || top == FieldExpired {
		return nil
	}
	if top == FieldUpdated {
		return fmt.Errorf("%w: field %q is maintained by the store", ErrInvalid, path)
	}
	return fmt.Errorf("%w: field %q is internal to the store and cannot be written (of the _-prefixed fields only _id and _expired can)", ErrInvalid, path)
}

// CheckReadable returns an ErrInvalid error naming path when a caller may
// not select, sort or project on it: an internal field other than _id,
// _updated and _expired.
func CheckReadable(path string) error {
	top, internal := isInternal(path)
	if !internal || top == FieldID || top == FieldUpdated || top == FieldExpired {
		return nil
	}
	return fmt.Errorf("%w: field %q is internal to the store and cannot be queried (of the _-prefixed fields only _id, _updated and _expired can)", ErrInvalid, path)
}

// CheckDocument checks the fields of a document to insert (or of an
// UpdateMany or Bulk entry) with CheckWritable.
func CheckDocument(doc Document) error {
	for k := range doc {
		if err := CheckWritable(k); err != nil {
			return err
		}
	}
	return nil
}

// CheckSelector checks every field a selector tests, at the top level and
// through $and, $or and $nor, with CheckReadable. Paths inside $elemMatch
// are relative to array elements, not to the document, so they cannot
// name an internal field.
func CheckSelector(sel *query.Selector) error {
	if sel == nil {
		return nil
	}
	return checkSelectorDoc(sel.Raw())
}

func checkSelectorDoc(m map[string]any) error {
	for k, v := range m {
		switch k {
		case "$and", "$or", "$nor":
			arr, _ := v.([]any)
			for _, e := range arr {
				if sub, ok := e.(map[string]any); ok {
					if err := checkSelectorDoc(sub); err != nil {
						return err
					}
				}
			}
			continue
		}
		if strings.HasPrefix(k, "$") {
			continue // $comment; other operators are refused by the query package
		}
		if err := CheckReadable(k); err != nil {
			return fmt.Errorf("selector: %w", err)
		}
	}
	return nil
}

// CheckFind checks the selector, sort and projection of a read with
// CheckReadable; backends call it first in Find, Count (through
// CheckSelector), Range, Near and DeleteMany.
func CheckFind(opts FindOptions) error {
	if err := CheckSelector(opts.Selector); err != nil {
		return err
	}
	for _, k := range opts.Sort {
		if err := CheckReadable(k.Field); err != nil {
			return fmt.Errorf("sort: %w", err)
		}
	}
	if opts.Projection != nil {
		for f := range opts.Projection.Fields() {
			if err := CheckReadable(f); err != nil {
				return fmt.Errorf("projection: %w", err)
			}
		}
	}
	return nil
}

// CheckRange checks a Range request: its date field and CheckFind.
func CheckRange(field string, opts FindOptions) error {
	if err := CheckReadable(field); err != nil {
		return fmt.Errorf("range field: %w", err)
	}
	return CheckFind(opts)
}
