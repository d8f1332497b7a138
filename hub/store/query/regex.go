package query

import (
	"regexp"
	"strings"
)

// MaxRegexLength is the longest $regex pattern accepted, in bytes. The
// pattern is checked here with RE2 (linear time) but a MongoDB server runs
// it with PCRE, which backtracks: a bound on its length bounds the patterns
// an attacker can build, and the mongo store's time limit bounds the rest.
const MaxRegexLength = 512

// newRegex compiles $regex with its $options. MongoDB uses PCRE; this
// package uses Go's RE2, so PCRE-only constructs (lookaround, backreferences,
// possessive quantifiers, \Z) are rejected with an error rather than
// silently matching differently. Options i, m and s map to RE2 flags; x
// (extended) is applied by removing unescaped whitespace and #-comments
// outside character classes before compiling, as PCRE does.
func newRegex(path string, pattern, options any) (valuePred, error) {
	pat, ok := pattern.(string)
	if !ok {
		return nil, selErr(path, "$regex needs a string, not %s", typeName(pattern))
	}
	if len(pat) > MaxRegexLength {
		return nil, selErr(path, "$regex: pattern of %d bytes is longer than the %d allowed", len(pat), MaxRegexLength)
	}
	opts := ""
	if options != nil {
		o, ok := options.(string)
		if !ok {
			return nil, selErr(path, "$options needs a string, not %s", typeName(options))
		}
		opts = o
	}
	flags := ""
	for _, c := range opts {
		switch c {
		case 'i', 'm', 's':
			if !strings.ContainsRune(flags, c) {
				flags += string(c)
			}
		case 'x':
			pat = stripExtended(pat)
		case 'u':
			// PCRE UTF-8 mode: RE2 is always UTF-8.
		default:
			return nil, selErr(path, "$regex: invalid option %q", c)
		}
	}
	if flags != "" {
		pat = "(?" + flags + ")" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, selErr(path, "$regex: invalid pattern %q: %v", pattern, err)
	}
	return regexPred{re: re}, nil
}

// stripExtended implements PCRE's extended mode: whitespace and comments
// from an unescaped # to the end of the line are removed, except inside
// character classes and after a backslash.
func stripExtended(pat string) string {
	var b strings.Builder
	inClass, escaped, comment := false, false, false
	for _, c := range pat {
		switch {
		case comment:
			if c == '\n' {
				comment = false
			}
			continue
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == '#':
			comment = true
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
