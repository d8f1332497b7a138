// EJSON, Meteor's extended JSON: dates as {"$date": ms}, binary as
// {"$binary": base64}, ±Inf and NaN as {"$InfNaN": ±1|0}, custom types as
// {"$type", "$value"}, and {"$escape": …} around objects that would
// otherwise read as one of these.

package ddp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// fromEJSON converts decoded JSON (numbers as float64) into the values the
// store keeps: $date becomes a UTC time.Time, $binary a []byte, $InfNaN a
// float64, $escape the literal object it wraps; {"$type", "$value"} stays
// an object with those two keys.
func fromEJSON(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromEJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				switch k {
				case "$date":
					ms, ok := e.(float64)
					if !ok || math.IsNaN(ms) || math.IsInf(ms, 0) {
						return nil, fmt.Errorf("EJSON $date: want milliseconds since 1970 as a number, not %v", e)
					}
					return time.UnixMilli(int64(ms)).UTC(), nil
				case "$binary":
					s, ok := e.(string)
					if !ok {
						return nil, fmt.Errorf("EJSON $binary: want base64 text, not %v", e)
					}
					b, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						return nil, fmt.Errorf("EJSON $binary: %w", err)
					}
					return b, nil
				case "$InfNaN":
					n, _ := e.(float64)
					switch {
					case n > 0:
						return math.Inf(1), nil
					case n < 0:
						return math.Inf(-1), nil
					}
					return math.NaN(), nil
				case "$escape":
					m, ok := e.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("EJSON $escape: want an object, not %v", e)
					}
					out := make(map[string]any, len(m))
					for k, e := range m {
						c, err := fromEJSON(e)
						if err != nil {
							return nil, err
						}
						out[k] = c
					}
					return out, nil
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := fromEJSON(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return v, nil
}

// ejsonKeys are the keys that make a one-key object (or the pairs that make
// a two-key object) read as EJSON; such objects are sent inside $escape.
func needsEscape(m map[string]any) bool {
	switch len(m) {
	case 1:
		for k := range m {
			return k == "$date" || k == "$binary" || k == "$escape" || k == "$InfNaN"
		}
	case 2:
		_, t := m["$type"]
		_, v := m["$value"]
		_, re := m["$regexp"]
		_, fl := m["$flags"]
		return (t && v) || (re && fl)
	}
	return false
}

// appendEJSON appends the EJSON text of v. Maps are written with sorted
// keys so that equal values encode to equal bytes (the merge box compares
// encodings).
func appendEJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case time.Time:
		b = append(b, `{"$date":`...)
		b = strconv.AppendInt(b, x.UnixMilli(), 10)
		return append(b, '}')
	case []byte:
		b = append(b, `{"$binary":"`...)
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, `"}`...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		if needsEscape(x) {
			// {$type, $value} is a custom type sent as it was stored.
			if _, ok := x["$type"]; !ok {
				b = append(b, `{"$escape":`...)
				b = appendObject(b, x)
				return append(b, '}')
			}
		}
		return appendObject(b, x)
	case json.RawMessage:
		return append(b, x...)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, data...)
}

func appendObject(b []byte, m map[string]any) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendEJSON(b, m[k])
	}
	return append(b, '}')
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `{"$InfNaN":0}`...)
	case math.IsInf(f, 1):
		return append(b, `{"$InfNaN":1}`...)
	case math.IsInf(f, -1):
		return append(b, `{"$InfNaN":-1}`...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript string literals.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
