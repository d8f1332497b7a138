package query

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/shared/model"
)

// SortKey is one field of a sort specification.
type SortKey struct {
	// Field is a dotted path.
	Field string
	// Desc sorts in descending order.
	Desc bool
}

// SortSpec is an ordered list of sort keys; earlier keys take precedence.
type SortSpec []SortKey

// ParseSort parses a sort specification given as:
//
//   - a string "a,-b" (a leading "-" means descending, "+" ascending);
//   - an array of pairs [["a", 1], ["b", -1]] or of one-key objects
//     [{"a": 1}, {"b": -1}];
//   - an object {"a": 1, "b": -1}. A Go map has no key order, so an object
//     with several keys is taken in lexical key order; use ParseSortJSON on
//     the JSON text, or the array form, when the order matters;
//   - a SortSpec or []SortKey, returned as is.
//
// Directions are 1 or -1 (also accepted: "asc"/"desc", "ascending"/
// "descending"). nil or an empty value means no sort.
func ParseSort(v any) (SortSpec, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case SortSpec:
		return x, x.validate()
	case []SortKey:
		return SortSpec(x), SortSpec(x).validate()
	case string:
		return parseSortString(x)
	case map[string]any:
		spec := make(SortSpec, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			key, err := sortKey(k, x[k])
			if err != nil {
				return nil, err
			}
			spec = append(spec, key)
		}
		return spec, spec.validate()
	case []any:
		spec := make(SortSpec, 0, len(x))
		for _, e := range x {
			switch p := e.(type) {
			case []any:
				if len(p) != 2 {
					return nil, sortErr("pair %v must be [field, direction]", p)
				}
				name, ok := p[0].(string)
				if !ok {
					return nil, sortErr("pair %v must start with a field name", p)
				}
				key, err := sortKey(name, p[1])
				if err != nil {
					return nil, err
				}
				spec = append(spec, key)
			case map[string]any:
				if len(p) != 1 {
					return nil, sortErr("array entries must be one-key objects")
				}
				for k, dir := range p {
					key, err := sortKey(k, dir)
					if err != nil {
						return nil, err
					}
					spec = append(spec, key)
				}
			case string:
				keys, err := parseSortString(p)
				if err != nil {
					return nil, err
				}
				spec = append(spec, keys...)
			default:
				return nil, sortErr("array entries must be [field, direction] pairs")
			}
		}
		return spec, spec.validate()
	}
	return nil, sortErr("unsupported sort specification of type %s", typeName(v))
}

// ParseSortJSON parses a sort specification from JSON text, keeping the key
// order of a JSON object ({"a": 1, "b": -1} sorts by a, then b). It accepts
// the same forms as ParseSort.
func ParseSortJSON(text []byte) (SortSpec, error) {
	trimmed := bytes.TrimSpace(text)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		var v any
		if err := json.Unmarshal(trimmed, &v); err != nil {
			return nil, sortErr("invalid JSON: %v", err)
		}
		return ParseSort(v)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // {
		return nil, sortErr("invalid JSON: %v", err)
	}
	var spec SortSpec
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, sortErr("invalid JSON: %v", err)
		}
		name, _ := tok.(string)
		var dir any
		if err := dec.Decode(&dir); err != nil {
			return nil, sortErr("invalid JSON: %v", err)
		}
		key, err := sortKey(name, dir)
		if err != nil {
			return nil, err
		}
		spec = append(spec, key)
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, sortErr("invalid JSON: %v", err)
	}
	if len(bytes.TrimSpace(trimmed[dec.InputOffset():])) != 0 {
		return nil, sortErr("invalid JSON: data after the object")
	}
	return spec, spec.validate()
}

func parseSortString(s string) (SortSpec, error) {
	var spec SortSpec
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		key := SortKey{Field: f}
		switch f[0] {
		case '-':
			key = SortKey{Field: f[1:], Desc: true}
		case '+':
			key.Field = f[1:]
		}
		spec = append(spec, key)
	}
	return spec, spec.validate()
}

func sortKey(field string, dir any) (SortKey, error) {
	switch d := dir.(type) {
	case string:
		switch strings.ToLower(d) {
		case "asc", "ascending":
			return SortKey{Field: field}, nil
		case "desc", "descending":
			return SortKey{Field: field, Desc: true}, nil
		}
	case map[string]any:
		return SortKey{}, sortErr("sort on %q: $meta sorts are not supported", field)
	default:
		if f, ok := model.Float(dir); ok && math.Abs(f) == 1 {
			return SortKey{Field: field, Desc: f < 0}, nil
		}
	}
	return SortKey{}, sortErr("sort on %q: direction must be 1 or -1, not %v", field, dir)
}

func (s SortSpec) validate() error {
	seen := make(map[string]bool, len(s))
	for _, k := range s {
		if k.Field == "" || slices.Contains(strings.Split(k.Field, "."), "") {
			return sortErr("empty field name in %q", k.Field)
		}
		if strings.HasPrefix(k.Field, "$") {
			return sortErr("field %q must not start with $", k.Field)
		}
		if seen[k.Field] {
			return sortErr("field %q is listed twice", k.Field)
		}
		seen[k.Field] = true
	}
	return nil
}

// Less reports whether a sorts before b. Fields compare in BSON order (see
// Compare); a missing field sorts as null. For an array, an ascending key
// uses its smallest element and a descending key its largest, and an empty
// array sorts below null ("Comparison/Sort Order", MongoDB manual: "A
// comparison of an empty array ... treats the empty array as less than null
// or a missing field"). Paths through arrays of objects ("items.price")
// consider every value found. Documents equal on every key are not Less in
// either direction, so use a stable sort to keep their order.
func (s SortSpec) Less(a, b map[string]any) bool {
	var bufA, bufB [4]any
	for _, k := range s {
		parts := strings.Split(k.Field, ".")
		ka := sortValue(collect(a, parts, bufA[:0]), k.Desc)
		kb := sortValue(collect(b, parts, bufB[:0]), k.Desc)
		c := compareSortKeys(ka, kb)
		if c == 0 {
			continue
		}
		if k.Desc {
			return c > 0
		}
		return c < 0
	}
	return false
}

// Sort sorts docs in place by the specification, stably. It computes each
// document's keys once, so it is cheaper than sorting with Less.
func (s SortSpec) Sort(docs []map[string]any) {
	if len(s) == 0 || len(docs) < 2 {
		return
	}
	type entry struct {
		doc  map[string]any
		keys []any
	}
	entries := make([]entry, len(docs))
	splits := make([][]string, len(s))
	for i, k := range s {
		splits[i] = strings.Split(k.Field, ".")
	}
	for i, d := range docs {
		keys := make([]any, len(s))
		for j, k := range s {
			keys[j] = sortValue(collect(d, splits[j], nil), k.Desc)
		}
		entries[i] = entry{doc: d, keys: keys}
	}
	slices.SortStableFunc(entries, func(x, y entry) int {
		for j, k := range s {
			c := compareSortKeys(x.keys[j], y.keys[j])
			if c != 0 {
				if k.Desc {
					return -c
				}
				return c
			}
		}
		return 0
	})
	for i, e := range entries {
		docs[i] = e.doc
	}
}

// sortValue picks the key among the candidates: the smallest for ascending,
// the largest for descending.
func sortValue(cands []any, desc bool) any {
	if len(cands) == 0 {
		return nil
	}
	best := cands[0]
	for _, c := range cands[1:] {
		r := compareSortKeys(c, best)
		if (desc && r > 0) || (!desc && r < 0) {
			best = c
		}
	}
	return best
}

func compareSortKeys(a, b any) int {
	_, ea := a.(emptyArray)
	_, eb := b.(emptyArray)
	switch {
	case ea && eb:
		return 0
	case ea:
		return -1
	case eb:
		return 1
	}
	return Compare(a, b)
}
