package store

import (
	"fmt"
	"strings"
)

// SetUpdate turns the document of an UpdateMany or Bulk entry into its
// $set update: every field but _id. It fails with ErrInvalid when there is
// nothing to set or a key is an operator.
func SetUpdate(doc Document) (map[string]any, error) {
	set := make(map[string]any, len(doc))
	for k, v := range doc {
		if k == FieldID {
			continue
		}
		if strings.HasPrefix(k, "$") {
			return nil, fmt.Errorf("%w: field %q: operators are not allowed here", ErrInvalid, k)
		}
		set[k] = v
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%w: no fields to update", ErrInvalid)
	}
	return map[string]any{"$set": set}, nil
}

// CheckUpdate validates an update document before a backend applies it:
// every field it writes, through plain fields and every operator (both
// sides of $rename), must pass CheckWritable, so that a caller cannot
// touch _updated (the store maintains it) or the store's internal fields
// (_seq). Changing _id is refused by query.ApplyUpdate, which also checks
// the update syntax.
func CheckUpdate(update map[string]any) error {
	if len(update) == 0 {
		return fmt.Errorf("%w: empty update", ErrInvalid)
	}
	for k, v := range update {
		if !strings.HasPrefix(k, "$") {
			if err := CheckWritable(k); err != nil {
				return err
			}
			continue
		}
		fields, ok := v.(map[string]any)
		if !ok {
			continue // query.ApplyUpdate reports it
		}
		for f, arg := range fields {
			if err := CheckWritable(f); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if k == "$rename" {
				if s, ok := arg.(string); ok {
					if err := CheckWritable(s); err != nil {
						return fmt.Errorf("%s: %w", k, err)
					}
				}
			}
		}
	}
	return nil
}

// SetPath sets a dotted path in doc, creating intermediate objects; a
// non-object in the way is replaced, as MongoDB's $set would refuse — we
// report it instead.
func SetPath(doc Document, path string, v any) error {
	parts := strings.Split(path, ".")
	cur := doc
	for i, p := range parts[:len(parts)-1] {
		next, ok := cur[p]
		if !ok || next == nil {
			m := map[string]any{}
			cur[p] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: cannot set %q: %q is not an object", ErrInvalid, path, strings.Join(parts[:i+1], "."))
		}
		cur = m
	}
	cur[parts[len(parts)-1]] = v
	return nil
}
