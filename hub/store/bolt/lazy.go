package bolt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// A collection scan does not decode whole documents: it finds the
// top-level fields of the stored JSON by skipping over values
// (skipValue), decodes only the fields the selector reads, and decodes the
// whole document only when it matches.

func docErr(id, coll string, err error) error {
	return fmt.Errorf("document %q in %s: %w", id, coll, err)
}

// fieldTree is the set of field paths to decode: a key with a nil
// subtree is decoded whole, one with a subtree only for those fields.
type fieldTree map[string]fieldTree

// add adds a dotted path; a path whose prefix is already whole adds
// nothing, and a path made whole drops its subtree.
func (t fieldTree) add(path string) {
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		sub, has := t[seg]
		if i == len(segs)-1 {
			t[seg] = nil
			return
		}
		if has && sub == nil {
			return
		}
		if !has {
			sub = fieldTree{}
			t[seg] = sub
		}
		t = sub
	}
}

// selectorFields returns the top-level fields a selector reads; ok is
// false when it cannot tell (an operator it does not know at the top).
func selectorFields(raw map[string]any, out fieldTree) bool {
	for k, v := range raw {
		switch k {
		case "$and", "$or", "$nor":
			arr, _ := v.([]any)
			for _, e := range arr {
				m, ok := e.(map[string]any)
				if !ok || !selectorFields(m, out) {
					return false
				}
			}
		default:
			if strings.HasPrefix(k, "$") {
				return false
			}
			out.add(k)
		}
	}
	return true
}

// decodeFields decodes the top-level fields of a stored document that are
// in want; fields not in want are skipped without decoding.
func decodeFields(data []byte, want fieldTree) (map[string]any, error) {
	return decodeFieldsInto(data, want, make(map[string]any, len(want)))
}

// decodeFieldsInto is decodeFields into out (cleared first), so that a
// scan can reuse one map for the documents it does not keep.
func decodeFieldsInto(data []byte, want fieldTree, out map[string]any) (map[string]any, error) {
	clear(out)
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, fmt.Errorf("decode stored document: not an object")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return out, nil
	}
	// the store writes keys once (encoding/json): when every wanted field
	// is found, the rest need not be skipped over
	found := 0
	for i < len(data) {
		end, err := skipValue(data, i)
		if err != nil {
			return nil, err
		}
		keyRaw := data[i:end]
		escaped := containsByte(keyRaw, '\\') || len(keyRaw) < 2
		var wanted bool
		var key string
		var sub fieldTree
		if escaped {
			if err := json.Unmarshal(keyRaw, &key); err != nil {
				return nil, fmt.Errorf("decode stored document: %w", err)
			}
			sub, wanted = want[key]
		} else if sub, wanted = want[string(keyRaw[1:len(keyRaw)-1])]; wanted {
			key = string(keyRaw[1 : len(keyRaw)-1])
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, fmt.Errorf("decode stored document: want ':' at %d", i)
		}
		i = skipSpace(data, i+1)
		vend, err := skipValue(data, i)
		if err != nil {
			return nil, err
		}
		if wanted && sub != nil && data[i] == '{' && !bytes.HasPrefix(data[i:vend], []byte(`{"$date"`)) {
			v, err := decodeFields(data[i:vend], sub)
			if err != nil {
				return nil, err
			}
			out[key] = v
		} else if wanted {
			v, err := decodeScalar(data[i:vend])
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		if wanted {
			if found++; found == len(want) {
				return out, nil
			}
		}
		i = skipSpace(data, vend)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return out, nil
		}
		return nil, fmt.Errorf("decode stored document: want ',' or '}' at %d", i)
	}
	return nil, fmt.Errorf("decode stored document: unexpected end")
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at i (the store
// wrote it with encoding/json, so it is valid).
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, fmt.Errorf("decode stored document: unexpected end")
	}
	switch data[i] {
	case '"':
		for j := i + 1; j < len(data); {
			q := bytes.IndexByte(data[j:], '"')
			if q < 0 {
				break
			}
			j += q
			// a quote preceded by an odd number of backslashes is escaped
			bs := 0
			for k := j - 1; k > i && data[k] == '\\'; k-- {
				bs++
			}
			if bs%2 == 0 {
				return j + 1, nil
			}
			j++
		}
		return 0, fmt.Errorf("decode stored document: unterminated string")
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipValue(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("decode stored document: unterminated value")
	}
	j := i
	for j < len(data) && !strings.ContainsRune(",}] \n\t\r", rune(data[j])) {
		j++
	}
	return j, nil
}

// decodeSome decodes the fields of want from a stored document (nil: all).
func decodeSome(v []byte, want fieldTree, scratch map[string]any) (store.Document, error) {
	if want == nil {
		return decodeDoc(v)
	}
	if scratch != nil {
		return decodeFieldsInto(v, want, scratch)
	}
	return decodeFields(v, want)
}

// fieldsFor returns the top-level fields a selector and a sort read, plus
// _id; nil when the selector's fields cannot be told (decode everything).
func fieldsFor(sel *query.Selector, sort query.SortSpec) fieldTree {
	want := fieldTree{store.FieldID: nil}
	if sel != nil && !selectorFields(sel.Raw(), want) {
		return nil
	}
	for _, k := range sort {
		want.add(k.Field)
	}
	return want
}

// scan visits every document in _id order (see run).
func (c *coll) scan(ctx ctxErr, sel *query.Selector, st *explainStats, want fieldTree, scratch map[string]any, fn func(id string, d store.Document, raw []byte) error) error {
	cur := c.docs.Cursor()
	n := 0
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st.docs++
		d, err := decodeSome(v, want, scratch)
		if err != nil {
			return docErr(string(k), c.name, err)
		}
		if !sel.Match(d) {
			continue
		}
		st.returned++
		if err := fn(string(k), d, v); err != nil {
			return err
		}
	}
	return nil
}

// decodeScalar decodes a stored value, without reflection for the common
// scalars (numbers, strings without escapes, booleans, null).
func decodeScalar(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("decode stored document: empty value")
	}
	switch c := raw[0]; {
	case c == '"' && !containsByte(raw[1:len(raw)-1], '\\'):
		return string(raw[1 : len(raw)-1]), nil
	case c == '-' || c >= '0' && c <= '9':
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f, nil
		}
	case string(raw) == "true":
		return true, nil
	case string(raw) == "false":
		return false, nil
	case string(raw) == "null":
		return nil, nil
	}
	return decodeValue(raw)
}
