package vsensor

import (
	"fmt"
	"strconv"
	"strings"
)

// argKind tells what a placeholder stands for.
type argKind uint8

const (
	argTimestamp argKind = iota // {timestamp}
	argVar                      // {var}
	argRef                      // {collection.id>route|default}
)

// placeholder is one placeholder of a template string.
type placeholder struct {
	kind argKind
	// name is the variable of an argVar.
	name string
	// ref is the property of an argRef.
	ref refKey
	// def is the default of an argRef, valid when hasDef.
	def    any
	hasDef bool
}

// refKey names a property of a document.
type refKey struct {
	doc   docKey
	route string
}

// docKey names a document; layer and collection are the two halves of the
// X-FLEX collection name <layer>_<collection>.
type docKey struct {
	layer, collection, id string
}

// translated is a template string turned into an expression source.
type translated struct {
	// src is the expression with each placeholder replaced by $<index of args>.
	src string
	// args are the placeholders, in order of appearance.
	args []placeholder
	// whole tells that the string is exactly one placeholder.
	whole bool
}

// argName returns the expression variable standing for placeholder i.
func argName(i int) string { return "$" + strconv.Itoa(i) }

// translate turns a template string into an expression: every placeholder
// becomes a variable $i, a placeholder inside a quoted string literal is
// spliced into it by concatenation, and toISOString becomes the toisostring
// transform. isVar tells the names of vars. A brace group that is not a
// placeholder ({timestamp}, a var, or something with '>') is left to the
// expression parser (object literals), except a bare name, which is
// reported as an unknown variable.
func translate(s string, isVar func(string) bool) (translated, error) {
	var (
		out  strings.Builder
		args []placeholder
		lit  strings.Builder // current string literal, as source
		// litParts collects the pieces of a string literal holding placeholders.
		litParts []string
		quote    byte
	)
	flushLit := func() {
		if len(litParts) == 0 {
			out.WriteByte(quote)
			out.WriteString(lit.String())
			out.WriteByte(quote)
			return
		}
		litParts = append(litParts, string(quote)+lit.String()+string(quote))
		out.WriteByte('(')
		out.WriteString(strings.Join(litParts, "+"))
		out.WriteByte(')')
		litParts = litParts[:0]
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '{' {
			ph, n, ok, err := placeholderAt(s, i, isVar)
			if err != nil {
				return translated{}, err
			}
			if ok {
				name := argName(len(args))
				args = append(args, ph)
				if quote != 0 {
					litParts = append(litParts, string(quote)+lit.String()+string(quote), name)
					lit.Reset()
				} else {
					out.WriteString(name)
				}
				i += n
				continue
			}
		}
		if quote != 0 {
			switch {
			case c == '\\' && i+1 < len(s):
				lit.WriteString(s[i : i+2])
				i += 2
			case c == quote:
				flushLit()
				lit.Reset()
				quote = 0
				i++
			default:
				lit.WriteByte(c)
				i++
			}
			continue
		}
		switch {
		case c == '"' || c == '\'':
			quote = c
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			if id := s[i:j]; id == "toISOString" {
				out.WriteString("toisostring")
			} else {
				out.WriteString(id)
			}
			i = j
		default:
			out.WriteByte(c)
			i++
		}
	}
	if quote != 0 { // unterminated literal: keep it so that the parser reports it
		out.WriteByte(quote)
		for _, p := range litParts {
			out.WriteString(p)
		}
		out.WriteString(lit.String())
	}
	t := translated{src: out.String(), args: args}
	t.whole = len(args) == 1 && strings.TrimSpace(t.src) == argName(0)
	return t, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// isRouteChar tells the characters of a property route after "}>".
func isRouteChar(c byte) bool { return isIdentPart(c) || c == '.' || c == '-' }

// placeholderAt parses the placeholder starting with the '{' at s[i]. It
// returns the placeholder and its length, or ok=false when the brace group
// is not a placeholder.
func placeholderAt(s string, i int, isVar func(string) bool) (ph placeholder, n int, ok bool, err error) {
	end := strings.IndexAny(s[i+1:], "{}\"'\n")
	if end < 0 || s[i+1+end] != '}' {
		return ph, 0, false, nil
	}
	content := s[i+1 : i+1+end]
	n = end + 2
	switch {
	case content == "timestamp":
		return placeholder{kind: argTimestamp}, n, true, nil
	case isVar(content):
		return placeholder{kind: argVar, name: content}, n, true, nil
	case strings.Contains(content, ">"):
		ph, err := parseRef(content)
		if err != nil {
			return ph, 0, false, fmt.Errorf("placeholder {%s}: %w", content, err)
		}
		return ph, n, true, nil
	case strings.Contains(content, ".") && !strings.ContainsAny(content, " \t:,") &&
		i+n+1 < len(s) && s[i+n] == '>' && isRouteChar(s[i+n+1]):
		// the manual's form {collection.id}>route
		j := i + n + 1
		for j < len(s) && isRouteChar(s[j]) {
			j++
		}
		ph, err := parseRef(content + s[i+n:j])
		if err != nil {
			return ph, 0, false, fmt.Errorf("placeholder {%s}%s: %w", content, s[i+n:j], err)
		}
		return ph, j - i, true, nil
	case content != "" && !strings.ContainsAny(content, " \t:,[]()"):
		return ph, 0, false, fmt.Errorf("placeholder {%s}: %w", content, errUnknownVar)
	}
	return ph, 0, false, nil
}

// parseRef parses "collection.id>route|default".
func parseRef(content string) (placeholder, error) {
	target, rest, _ := strings.Cut(content, ">")
	coll, id, ok := strings.Cut(target, ".")
	if !ok || id == "" {
		return placeholder{}, fmt.Errorf("want {collection.id>property}, got no document id before '>'")
	}
	layer, collection, ok := splitCollection(coll)
	if !ok {
		return placeholder{}, fmt.Errorf("collection %q is not <layer>_<collection>", coll)
	}
	route, def, hasDef := strings.Cut(rest, "|")
	route = strings.TrimSpace(route)
	if route == "" || strings.HasPrefix(route, ".") || strings.HasSuffix(route, ".") || strings.Contains(route, "..") {
		return placeholder{}, fmt.Errorf("property route %q is not a dotted path", route)
	}
	ph := placeholder{kind: argRef, ref: refKey{doc: docKey{layer: layer, collection: collection, id: id}, route: route}, hasDef: hasDef}
	if hasDef {
		ph.def = parseDefault(strings.TrimSpace(def))
	}
	return ph, nil
}

// parseDefault reads a default value: a number, true, false, null, a quoted
// string, or else the text itself.
func parseDefault(s string) any {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
