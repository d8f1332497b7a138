package bolt

import (
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

// selectorFields returns the top-level fields a selector reads; ok is
// false when it cannot tell (an operator it does not know at the top).
func selectorFields(raw map[string]any, out map[string]bool) bool {
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
			top, _, _ := strings.Cut(k, ".")
			out[top] = true
		}
	}
	return true
}

// decodeFields decodes the top-level fields of a stored document that are
// in want; fields not in want are skipped without decoding.
func decodeFields(data []byte, want map[string]bool) (map[string]any, error) {
	out := make(map[string]any, len(want))
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, fmt.Errorf("decode stored document: not an object")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return out, nil
	}
	for i < len(data) {
		end, err := skipValue(data, i)
		if err != nil {
			return nil, err
		}
		keyRaw := data[i:end]
		escaped := containsByte(keyRaw, '\\') || len(keyRaw) < 2
		var wanted bool
		var key string
		if escaped {
			if err := json.Unmarshal(keyRaw, &key); err != nil {
				return nil, fmt.Errorf("decode stored document: %w", err)
			}
			wanted = want[key]
		} else if wanted = want[string(keyRaw[1:len(keyRaw)-1])]; wanted {
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
		if wanted {
			v, err := decodeScalar(data[i:vend])
			if err != nil {
				return nil, err
			}
			out[key] = v
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
		for j := i + 1; j < len(data); j++ {
			switch data[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
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

// scan visits every document in _id order, decoding only what sel reads
// until a document matches.
func (c *coll) scan(ctx ctxErr, sel *query.Selector, st *explainStats, fn func(id string, d store.Document) error) error {
	var want map[string]bool
	if sel != nil {
		want = map[string]bool{}
		if !selectorFields(sel.Raw(), want) {
			want = nil
		}
	}
	cur := c.docs.Cursor()
	n := 0
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st.docs++
		if want != nil {
			part, err := decodeFields(v, want)
			if err != nil {
				return docErr(string(k), c.name, err)
			}
			if !sel.Match(part) {
				continue
			}
		}
		d, err := decodeDoc(v)
		if err != nil {
			return docErr(string(k), c.name, err)
		}
		if want == nil && !sel.Match(d) {
			continue
		}
		st.returned++
		if err := fn(string(k), d); err != nil {
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
