package query

import (
	"maps"
	"slices"
)

// IDs reports whether the selector pins _id to a finite set of string ids,
// so a store can look documents up by key instead of scanning: _id equality
// ({"_id": "x"}, {"_id": {"$eq": "x"}}) or {"_id": {"$in": [...]}} at the top
// level, possibly inside $and (constraints are intersected) or in every
// branch of an $or (branches are united). The ids keep the order in which
// the selector lists them, without duplicates. The caller must still call
// Match on each document found, since other conditions may apply. ok is
// false when _id is not pinned, or is pinned to non-string values.
func (s *Selector) IDs() (ids []string, ok bool) {
	if s == nil {
		return nil, false
	}
	return docIDs(s.raw)
}

func docIDs(sel map[string]any) ([]string, bool) {
	var set []string
	pinned := false
	add := func(ids []string) {
		if !pinned {
			set, pinned = ids, true
			return
		}
		set = slices.DeleteFunc(set, func(id string) bool { return !slices.Contains(ids, id) })
	}
	if v, has := sel["_id"]; has {
		if ids, ok := idConstraint(v); ok {
			add(ids)
		}
	}
	if arr, ok := sel["$and"].([]any); ok {
		for _, e := range arr {
			if m, ok := e.(map[string]any); ok {
				if ids, ok := docIDs(m); ok {
					add(ids)
				}
			}
		}
	}
	if arr, ok := sel["$or"].([]any); ok && len(arr) > 0 {
		var union []string
		all := true
		for _, e := range arr {
			m, ok := e.(map[string]any)
			if !ok {
				all = false
				break
			}
			ids, ok := docIDs(m)
			if !ok {
				all = false
				break
			}
			union = appendNew(union, ids...)
		}
		if all {
			add(union)
		}
	}
	if !pinned {
		return nil, false
	}
	return slices.Clone(set), true
}

// idConstraint returns the ids a single _id condition allows.
func idConstraint(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case map[string]any:
		if !isOperatorObject(x) {
			return nil, false
		}
		var set []string
		pinned := false
		for _, op := range slices.Sorted(maps.Keys(x)) {
			arg := x[op]
			var ids []string
			switch op {
			case "$eq":
				s, ok := arg.(string)
				if !ok {
					return nil, false
				}
				ids = []string{s}
			case "$in":
				arr, ok := arg.([]any)
				if !ok {
					return nil, false
				}
				for _, e := range arr {
					s, ok := e.(string)
					if !ok {
						return nil, false
					}
					ids = appendNew(ids, s)
				}
			default:
				continue
			}
			if !pinned {
				set, pinned = ids, true
			} else {
				set = slices.DeleteFunc(set, func(id string) bool { return !slices.Contains(ids, id) })
			}
		}
		return set, pinned
	}
	return nil, false
}

func appendNew(dst []string, ids ...string) []string {
	for _, id := range ids {
		if !slices.Contains(dst, id) {
			dst = append(dst, id)
		}
	}
	return dst
}

// Range reports a top-level range constraint on field (for example
// "_updated") that a store can use for an index scan: the tightest bounds
// given by $gt/$gte/$lt/$lte/$eq or implicit equality on that field at the
// top level or inside top-level $and. A nil lo or hi means unbounded on that
// side. Only numbers, strings, booleans and dates count as bounds (null,
// objects and arrays do not, since their matching rules are not a range).
// Every matching document has the field, or one of its array elements, in
// [lo, hi] in Compare order; the caller must still call Match. ok is false
// when there is no usable bound.
func (s *Selector) Range(field string) (lo, hi any, loIncl, hiIncl bool, ok bool) {
	if s == nil {
		return nil, nil, false, false, false
	}
	r := &bounds{}
	r.collect(s.raw, field)
	return r.lo, r.hi, r.loIncl, r.hiIncl, r.lo != nil || r.hi != nil
}

type bounds struct {
	lo, hi         any
	loIncl, hiIncl bool
}

func (r *bounds) collect(sel map[string]any, field string) {
	if v, has := sel[field]; has {
		if m, ok := v.(map[string]any); ok && isOperatorObject(m) {
			for op, arg := range m {
				b, ok := rangeOperand(arg)
				if !ok {
					continue
				}
				switch op {
				case "$eq":
					r.lower(b, true)
					r.upper(b, true)
				case "$gt", "$gte":
					r.lower(b, op == "$gte")
				case "$lt", "$lte":
					r.upper(b, op == "$lte")
				}
			}
		} else if b, ok := rangeOperand(v); ok {
			r.lower(b, true)
			r.upper(b, true)
		}
	}
	if arr, ok := sel["$and"].([]any); ok {
		for _, e := range arr {
			if m, ok := e.(map[string]any); ok {
				r.collect(m, field)
			}
		}
	}
}

// rangeOperand converts a bound, accepting only scalar non-null values.
func rangeOperand(v any) (any, bool) {
	lit, err := literal(v)
	if err != nil {
		return nil, false
	}
	switch rank(lit) {
	case rankNumber, rankString, rankBool, rankDate:
		return lit, true
	}
	return nil, false
}

func (r *bounds) lower(v any, incl bool) {
	if r.lo == nil {
		r.lo, r.loIncl = v, incl
		return
	}
	switch c := Compare(v, r.lo); {
	case c > 0:
		r.lo, r.loIncl = v, incl
	case c == 0:
		r.loIncl = r.loIncl && incl
	}
}

func (r *bounds) upper(v any, incl bool) {
	if r.hi == nil {
		r.hi, r.hiIncl = v, incl
		return
	}
	switch c := Compare(v, r.hi); {
	case c < 0:
		r.hi, r.hiIncl = v, incl
	case c == 0:
		r.hiIncl = r.hiIncl && incl
	}
}
