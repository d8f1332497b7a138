package expression

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ---- encodeURI / decodeURI ----

const uriUnescaped = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789;,/?:@&=+$-_.!~*'()#"

// encodeURI implements the global function of that name.
func encodeURI(s string, limit int) (any, error) {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && strings.IndexByte(uriUnescaped, byte(r)) >= 0 {
			b.WriteRune(r)
			continue
		}
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], r)
		for _, c := range buf[:n] {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
		if b.Len() > limit {
			return nil, errLimit("string longer than %d bytes", limit)
		}
	}
	return b.String(), nil
}

// decodeURI implements the global function of that name: escapes of the
// reserved characters ;/?:@&=+$,# are kept as written.
func decodeURI(s string) (any, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	malformed := jsErrorf(ErrURIError, "URI malformed")
	isHex := func(c byte) bool { return digitVal(c) < 16 }
	hexByte := func(i int) (byte, bool) {
		if i+3 > len(s) || s[i] != '%' || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return 0, false
		}
		return byte(digitVal(s[i+1])<<4 | digitVal(s[i+2])), true
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '%' {
			b.WriteByte(s[i])
			i++
			continue
		}
		c, ok := hexByte(i)
		if !ok {
			return nil, malformed
		}
		if c < 0x80 {
			if strings.IndexByte(";/?:@&=+$,#", c) >= 0 {
				b.WriteString(s[i : i+3])
			} else {
				b.WriteByte(c)
			}
			i += 3
			continue
		}
		n := 0
		switch {
		case c&0xE0 == 0xC0:
			n = 2
		case c&0xF0 == 0xE0:
			n = 3
		case c&0xF8 == 0xF0:
			n = 4
		default:
			return nil, malformed
		}
		seq := []byte{c}
		j := i + 3
		for k := 1; k < n; k++ {
			cc, ok := hexByte(j)
			if !ok || cc&0xC0 != 0x80 {
				return nil, malformed
			}
			seq = append(seq, cc)
			j += 3
		}
		r, size := utf8.DecodeRune(seq)
		if r == utf8.RuneError || size != n {
			return nil, malformed
		}
		b.WriteRune(r)
		i = j
	}
	return b.String(), nil
}

// ---- String.prototype.replace / replaceAll ----

// substitution implements GetSubstitution. groups holds the capture
// strings (nil entry = undefined); names maps group names to indexes, nil
// when the pattern has no named groups.
func substitution(repl, str string, pos int, matched string, groups []*string, names map[string]int) string {
	if strings.IndexByte(repl, '$') < 0 {
		return repl
	}
	var b strings.Builder
	m := len(groups)
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '$' || i+1 >= len(repl) {
			b.WriteByte(c)
			continue
		}
		n := repl[i+1]
		switch {
		case n == '$':
			b.WriteByte('$')
			i++
		case n == '&':
			b.WriteString(matched)
			i++
		case n == '`':
			b.WriteString(str[:pos])
			i++
		case n == '\'':
			if end := pos + len(matched); end <= len(str) {
				b.WriteString(str[end:])
			}
			i++
		case n >= '0' && n <= '9':
			d1 := int(n - '0')
			if i+2 < len(repl) && repl[i+2] >= '0' && repl[i+2] <= '9' {
				d2 := d1*10 + int(repl[i+2]-'0')
				if d2 >= 1 && d2 <= m {
					if g := groups[d2-1]; g != nil {
						b.WriteString(*g)
					}
					i += 2
					continue
				}
			}
			if d1 >= 1 && d1 <= m {
				if g := groups[d1-1]; g != nil {
					b.WriteString(*g)
				}
				i++
				continue
			}
			b.WriteByte('$')
		case n == '<' && names != nil:
			end := strings.IndexByte(repl[i+2:], '>')
			if end < 0 {
				b.WriteByte('$')
				continue
			}
			name := repl[i+2 : i+2+end]
			if idx, ok := names[name]; ok && groups[idx-1] != nil {
				b.WriteString(*groups[idx-1])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// replaceString implements str.replace(from, to) / str.replaceAll(from, to)
// with a string pattern.
func replaceString(s, from, to string, all bool, limit int) (any, error) {
	var positions []int
	if !all {
		if p := strings.Index(s, from); p >= 0 {
			positions = []int{p}
		}
	} else if from == "" {
		for i := range s {
			positions = append(positions, i)
		}
		positions = append(positions, len(s))
	} else {
		for off := 0; ; {
			p := strings.Index(s[off:], from)
			if p < 0 {
				break
			}
			positions = append(positions, off+p)
			off += p + len(from)
		}
	}
	if len(positions) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, p := range positions {
		b.WriteString(s[last:p])
		b.WriteString(substitution(to, s, p, from, nil, nil))
		last = p + len(from)
		if b.Len() > limit {
			return nil, errLimit("string longer than %d bytes", limit)
		}
	}
	b.WriteString(s[last:])
	if b.Len() > limit {
		return nil, errLimit("string longer than %d bytes", limit)
	}
	return b.String(), nil
}

// replaceRegexp implements str.replace(new RegExp(reg), to) and
// str.replaceAll(new RegExp(reg, "g"), to).
func replaceRegexp(a []any, all bool, limit int) (any, error) {
	method := "replace"
	if all {
		method = "replaceAll"
	}
	s, err := requireString(arg(a, 0), "str", method)
	if err != nil {
		return nil, err
	}
	pattern := "(?:)"
	if p := arg(a, 1); p != undefined {
		pattern = toString(p)
	}
	re, err := compileJSRegexp(pattern)
	if err != nil {
		return nil, err
	}
	to := toString(arg(a, 2))
	n := 1
	if all {
		n = -1
	}
	matches := re.FindAllStringSubmatchIndex(s, n)
	if len(matches) == 0 {
		return s, nil
	}
	var names map[string]int
	for i, name := range re.SubexpNames() {
		if name != "" {
			if names == nil {
				names = map[string]int{}
			}
			names[name] = i
		}
	}
	var b strings.Builder
	last := 0
	groups := make([]*string, re.NumSubexp())
	for _, m := range matches {
		for g := range groups {
			groups[g] = nil
			if m[2*g+2] >= 0 {
				v := s[m[2*g+2]:m[2*g+3]]
				groups[g] = &v
			}
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(substitution(to, s, m[0], s[m[0]:m[1]], groups, names))
		last = m[1]
		if b.Len() > limit {
			return nil, errLimit("string longer than %d bytes", limit)
		}
	}
	b.WriteString(s[last:])
	if b.Len() > limit {
		return nil, errLimit("string longer than %d bytes", limit)
	}
	return b.String(), nil
}

var (
	reCacheMu sync.Mutex
	reCache   = map[string]*regexp.Regexp{}
)

const reCacheMax = 256

// compileJSRegexp translates a JavaScript pattern (no flags) into RE2
// syntax and compiles it. Features RE2 lacks (lookaround, backreferences)
// are reported as SyntaxError.
func compileJSRegexp(pattern string) (*regexp.Regexp, error) {
	reCacheMu.Lock()
	re, ok := reCache[pattern]
	reCacheMu.Unlock()
	if ok {
		return re, nil
	}
	goPat, err := translateRegexp(pattern)
	if err == nil {
		re, err = regexp.Compile(goPat)
	}
	if err != nil {
		return nil, jsErrorf(ErrSyntaxError, "Invalid regular expression: /%s/: %v", pattern, err)
	}
	reCacheMu.Lock()
	if len(reCache) >= reCacheMax {
		clear(reCache)
	}
	reCache[pattern] = re
	reCacheMu.Unlock()
	return re, nil
}

const jsSpaceClass = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

type unsupportedRegexp string

func (e unsupportedRegexp) Error() string { return string(e) + " is not supported" }

func translateRegexp(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", unsupportedRegexp(`\ at end of pattern`)
			}
			i++
			e := p[i]
			switch {
			case e == 's':
				if inClass {
					b.WriteString(jsSpaceClass)
				} else {
					b.WriteString("[" + jsSpaceClass + "]")
				}
			case e == 'S':
				if inClass {
					return "", unsupportedRegexp(`\S inside a character class`)
				}
				b.WriteString("[^" + jsSpaceClass + "]")
			case e == 'u' && i+4 < len(p):
				if _, err := strconv.ParseUint(p[i+1:i+5], 16, 16); err != nil {
					b.WriteString("u")
					continue
				}
				b.WriteString(`\x{` + p[i+1:i+5] + `}`)
				i += 4
			case e == '0':
				b.WriteString(`\x00`)
			case e >= '1' && e <= '9' && !inClass, e == 'k':
				return "", unsupportedRegexp("backreference")
			case e == 'c' && i+1 < len(p) && unicode.IsLetter(rune(p[i+1])):
				b.WriteString(`\x{` + strconv.FormatInt(int64(p[i+1]%32), 16) + `}`)
				i++
			case e == 'd', e == 'D', e == 'w', e == 'W', e == 'b', e == 'B',
				e == 'n', e == 'r', e == 't', e == 'f', e == 'v', e == 'x':
				b.WriteByte('\\')
				b.WriteByte(e)
			case e < utf8.RuneSelf && (unicode.IsLetter(rune(e)) || unicode.IsDigit(rune(e))):
				// Annex B identity escape: \a is "a".
				b.WriteByte(e)
			default:
				r, size := utf8.DecodeRuneInString(p[i:])
				b.WriteString(regexp.QuoteMeta(string(r)))
				i += size - 1
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			if strings.HasPrefix(p[i:], "[^]") {
				b.WriteString(`(?s:.)`)
				i += 2
				continue
			}
			if strings.HasPrefix(p[i:], "[]") {
				b.WriteString(`[^\x00-\x{10FFFF}]`)
				i++
				continue
			}
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' { // leading ] is literal in RE2, a closer in JS
				return "", unsupportedRegexp("empty character class")
			}
		case c == '.':
			b.WriteString(`[^\n\r\x{2028}\x{2029}]`)
		case c == '(' && strings.HasPrefix(p[i:], "(?="), c == '(' && strings.HasPrefix(p[i:], "(?!"),
			c == '(' && strings.HasPrefix(p[i:], "(?<="), c == '(' && strings.HasPrefix(p[i:], "(?<!"):
			return "", unsupportedRegexp("lookaround")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// ---- case mapping ----

var upperSpecial = map[rune]string{
	'ß': "SS", 'ŉ': "ʼN", 'ǰ': "J̌", 'ΐ': "Ϊ́", 'ΰ': "Ϋ́", 'և': "ԵՒ",
	'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
}

// toUpperJS is String.prototype.toUpperCase, including the one-to-many
// mappings of Unicode SpecialCasing that strings.ToUpper lacks.
func toUpperJS(s string) string {
	if isASCII(s) {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		if sp, ok := upperSpecial[r]; ok {
			b.WriteString(sp)
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// toLowerJS is String.prototype.toLowerCase, including İ → i̇ and the
// final-sigma rule.
func toLowerJS(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		switch {
		case r == 'İ':
			b.WriteString("i\u0307")
		case r == 'Σ' && i > 0 && unicode.IsLetter(rs[i-1]) && (i+1 == len(rs) || !unicode.IsLetter(rs[i+1])):
			b.WriteRune('ς')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
