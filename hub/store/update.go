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
// it must not touch _updated (the store maintains it) or _id. The update
// syntax itself is checked by query.ApplyUpdate.
func CheckUpdate(update map[string]any) error {
	if len(update) == 0 {
		return fmt.Errorf("%w: empty update", ErrInvalid)
	}
	check := func(f string) error {
		if f == FieldUpdated || strings.HasPrefix(f, FieldUpdated+".") {
			return fmt.Errorf("%w: field %q is maintained by the store", ErrInvalid, f)
		}
		return nil
	}
	for k, v := range update {
		if !strings.HasPrefix(k, "$") {
			if err := check(k); err != nil {
				return err
			}
			continue
		}
		fields, ok := v.(map[string]any)
		if !ok {
			continue // query.ApplyUpdate reports it
		}
		for f, arg := range fields {
			if err := check(f); err != nil {
				return err
			}
			if k == "$rename" {
				if s, ok := arg.(string); ok {
					if err := check(s); err != nil {
						return err
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
