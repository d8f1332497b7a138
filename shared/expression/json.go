package expression

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting in jsonparse input and jsonstringify output.
const maxJSONDepth = 512

// stringifyJSON implements JSON.stringify(v) without replacer or indentation.
// ok is false when JSON.stringify would return undefined.
func stringifyJSON(v any, limit int) (string, bool, error) {
	var b strings.Builder
	ok, err := writeJSON(&b, norm(v), limit, 0)
	if err != nil || !ok {
		return "", ok, err
	}
	return b.String(), true, nil
}

func writeJSON(b *strings.Builder, v any, limit, depth int) (bool, error) {
	if depth > maxJSONDepth {
		return false, jsErrorf(ErrRangeError, "Maximum call stack size exceeded")
	}
	if limit > 0 && b.Len() > limit {
		return false, errLimit("string longer than %d bytes", limit)
	}
	switch x := v.(type) {
	case undefinedType:
		return false, nil
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		if math.IsInf(x, 0) || x != x {
			b.WriteString("null")
		} else {
			b.WriteString(numberToString(x))
		}
	case string:
		quoteJSON(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			ok, err := writeJSON(b, norm(e), limit, depth+1)
			if err != nil {
				return false, err
			}
			if !ok {
				b.WriteString("null")
			}
		}
		b.WriteByte(']')
	case *object, map[string]any:
		b.WriteByte('{')
		first := true
		for _, k := range objKeys(x) {
			e, _ := objGet(x, k)
			e = norm(e)
			if e == undefined {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			quoteJSON(b, k)
			b.WriteByte(':')
			if _, err := writeJSON(b, e, limit, depth+1); err != nil {
				return false, err
			}
		}
		b.WriteByte('}')
	default:
		return false, nil
	}
	return true, nil
}

// quoteJSON writes s as JSON.stringify quotes strings: only '"', '\\' and
// control characters are escaped (no HTML escaping, unlike encoding/json).
func quoteJSON(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b.WriteByte(c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // invalid UTF-8 is written as U+FFFD
			i += size
			continue
		}
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		i++
	}
	b.WriteByte('"')
}

// parseJSON implements JSON.parse(text): objects keep their key order.
func parseJSON(text string) (any, error) {
	p := jsonParser{s: text}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.s) {
		return nil, p.unexpected()
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) unexpected() error {
	if p.i >= len(p.s) {
		return jsErrorf(ErrSyntaxError, "Unexpected end of JSON input")
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return jsErrorf(ErrSyntaxError, "Unexpected token %q in JSON at position %d", r, p.i)
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, jsErrorf(ErrSyntaxError, "JSON nested too deeply")
	}
	if p.i >= len(p.s) {
		return nil, p.unexpected()
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		o := newObject(4)
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		for {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return nil, p.unexpected()
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.unexpected()
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.set(k, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return o, nil
			}
			return nil, p.unexpected()
		}
	case c == '[':
		p.i++
		arr := []any{}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return arr, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				return arr, nil
			}
			return nil, p.unexpected()
		}
	case c == '"':
		return p.str()
	case c == 't':
		return p.lit("true", true)
	case c == 'f':
		return p.lit("false", false)
	case c == 'n':
		return p.lit("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	}
	return nil, p.unexpected()
}

func (p *jsonParser) lit(word string, v any) (any, error) {
	for j := 0; j < len(word); j++ {
		if p.i >= len(p.s) || p.s[p.i] != word[j] {
			return nil, p.unexpected()
		}
		p.i++
	}
	return v, nil
}

func (p *jsonParser) digits() int {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

func (p *jsonParser) num() (any, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if p.digits() == 0 {
		return nil, p.unexpected()
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return nil, p.unexpected()
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.unexpected()
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil && !math.IsInf(f, 0) {
		return nil, jsErrorf(ErrSyntaxError, "bad number in JSON at position %d", start)
	}
	return f, nil
}

func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.unexpected()
		case c == '\\':
			if p.i+1 >= len(p.s) {
				p.i++
				return "", p.unexpected()
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.unexpected()
				}
				if utf16.IsSurrogate(r) && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if r2, ok := p.hex4(); ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
						r = utf16.DecodeRune(r, r2)
					} else {
						p.i = save
					}
				}
				b.WriteRune(r) // a lone surrogate becomes U+FFFD
			default:
				p.i--
				return "", p.unexpected()
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", jsErrorf(ErrSyntaxError, "Unterminated string in JSON at position %d", p.i)
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// marshalJSON renders an engine value as EvalJSON does; undefined and NaN
// become null.
func marshalJSON(v any, limit int) ([]byte, error) {
	s, ok, err := stringifyJSON(v, limit)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []byte("null"), nil
	}
	return []byte(s), nil
}
