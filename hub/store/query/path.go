package query

// valuePred tests one candidate value reached by a path. exists is false
// when the path led to a missing field (v is then nil); MongoDB lets only
// null-equality and $exists/$type-free negations see such candidates.
type valuePred interface {
	test(v any, exists bool) bool
}

// walk reports whether any candidate value at parts below cur satisfies p,
// following MongoDB's path rules:
//
//   - object fields are looked up by name; a missing field yields one
//     "missing" candidate;
//   - an array met before the end of the path is traversed: each element
//     that is an object continues with the same remaining path (elements
//     that are scalars or arrays contribute nothing), and a numeric path
//     component also selects the element at that index;
//   - a scalar met before the end of the path yields a "missing" candidate;
//   - at the end of the path, the value itself is a candidate and, when
//     expand is set and the value is an array, so is each of its elements
//     (one level only: [[1]] does not contain 1).
//
// These are the rules behind MongoDB's jstests/core/null2.js, where
// {"a.b": null} matches {a: [{}]} but neither {a: []} nor {a: [5, {b: 5}]}.
func walk(cur any, parts []string, expand bool, p valuePred) bool {
	for len(parts) > 0 {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[parts[0]]
			if !ok {
				return p.test(nil, false)
			}
			cur, parts = v, parts[1:]
			continue
		case []any:
			return walkArray(c, parts, expand, p)
		default:
			return p.test(nil, false)
		}
	}
	if p.test(cur, true) {
		return true
	}
	if expand {
		if arr, ok := cur.([]any); ok {
			for _, e := range arr {
				if p.test(e, true) {
					return true
				}
			}
		}
	}
	return false
}

func walkArray(arr []any, parts []string, expand bool, p valuePred) bool {
	idx, numeric := arrayIndex(parts[0])
	if numeric && idx < len(arr) && walk(arr[idx], parts[1:], expand, p) {
		return true
	}
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if numeric {
			// "a.0" also means field "0" of object elements, but an element
			// without that field does not make the path missing: the path
			// already resolved positionally.
			if _, has := m[parts[0]]; !has {
				continue
			}
		}
		if walk(m, parts, expand, p) {
			return true
		}
	}
	return false
}

// collect appends every candidate value at parts below cur, in document
// order, for sort keys. Missing candidates are appended as nil (null); an
// array at the end of the path contributes its elements, or emptyArray when
// it has none.
func collect(cur any, parts []string, out []any) []any {
	for len(parts) > 0 {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[parts[0]]
			if !ok {
				return append(out, nil)
			}
			cur, parts = v, parts[1:]
			continue
		case []any:
			idx, numeric := arrayIndex(parts[0])
			if numeric && idx < len(c) {
				out = collect(c[idx], parts[1:], out)
			}
			for _, e := range c {
				m, ok := e.(map[string]any)
				if !ok {
					continue
				}
				if _, has := m[parts[0]]; numeric && !has {
					continue
				}
				out = collect(m, parts, out)
			}
			return out
		default:
			return append(out, nil)
		}
	}
	if arr, ok := cur.([]any); ok {
		if len(arr) == 0 {
			return append(out, emptyArray{})
		}
		return append(out, arr...)
	}
	return append(out, cur)
}

// emptyArray is the sort key of an empty array, which MongoDB orders below
// null and missing fields.
type emptyArray struct{}
