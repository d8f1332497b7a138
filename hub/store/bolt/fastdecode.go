package bolt

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// Every read decodes stored documents, and encoding/json's decoding into
// interface values (reflection, a validating pre-pass, a state machine per
// byte) cost more than the rest of a GET by id or of an index query's
// page. The store writes documents with encoding/json, so they are compact
// and valid: fastDecode decodes that form directly into what
// json.Unmarshal into an interface value followed by unwrapDates gives
// (objects map[string]any, arrays []any, numbers float64 through
// strconv.ParseFloat as encoding/json does, {"$date": RFC 3339} as
// time.Time). Anything it does not expect (escaped strings and keys are
// left to encoding/json, invalid UTF-8, malformed input, nesting deeper
// than maxFastDepth) makes it give up with errNotFast, and the caller
// decodes with encoding/json, which also gives its error messages.

var errNotFast = errors.New("not decodable by fastDecode")

// maxFastDepth bounds the recursion; deeper values go to encoding/json.
const maxFastDepth = 200

// fastDecode decodes one stored JSON value (see above).
func fastDecode(data []byte) (any, error) {
	d := fastDecoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.data) {
		return nil, errNotFast
	}
	return v, nil
}

type fastDecoder struct {
	data []byte
	i    int
}

func (d *fastDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\n', '\t', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) value(depth int) (any, error) {
	if depth > maxFastDepth {
		return nil, errNotFast
	}
	d.space()
	if d.i >= len(d.data) {
		return nil, errNotFast
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, errNotFast
}

func (d *fastDecoder) literal(s string) bool {
	if len(d.data)-d.i >= len(s) && string(d.data[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// str decodes a string without escapes.
func (d *fastDecoder) str() (string, error) {
	start := d.i + 1
	for j := start; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '"':
			b := d.data[start:j]
			if !utf8.Valid(b) {
				return "", errNotFast
			}
			d.i = j + 1
			return string(b), nil
		case c == '\\' || c < 0x20:
			return "", errNotFast
		}
	}
	return "", errNotFast
}

func (d *fastDecoder) number() (float64, error) {
	start := d.i
	for d.i < len(d.data) {
		switch c := d.data[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	tok := d.data[start:d.i]
	if !jsonNumber(tok) { // ParseFloat is laxer (01, 1., +1, 0x1p-2, _)
		return 0, errNotFast
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, errNotFast
	}
	return f, nil
}

func (d *fastDecoder) array(depth int) (any, error) {
	d.i++ // [
	out := []any{}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return out, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		d.space()
		if d.i >= len(d.data) {
			return nil, errNotFast
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return out, nil
		default:
			return nil, errNotFast
		}
	}
}

func (d *fastDecoder) object(depth int) (any, error) {
	d.i++ // {
	out := map[string]any{}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return out, nil
	}
	for {
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, errNotFast
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, errNotFast
		}
		d.i++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[k] = v
		d.space()
		if d.i >= len(d.data) {
			return nil, errNotFast
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			// unwrapDates: {"$date": RFC 3339} is a date
			if len(out) == 1 {
				if s, ok := out["$date"].(string); ok {
					if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
						return ts, nil
					}
				}
			}
			return out, nil
		default:
			return nil, errNotFast
		}
	}
}

// jsonNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
