package expression

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the JEXL front end: a lexer that splits the source the way
// JEXL 2.x's lexer does, and a Pratt parser that builds the same tree as
// JEXL's state-machine parser for every expression JEXL accepts.
//
// JEXL grammar facts the parser reproduces:
//   - binary precedence: || && 10; == != < <= > >= in 20; + - 30;
//     * / // 40; % ^ 50; all left-associative;
//   - "." member, "[...]" index/filter and "|transform(args)" are postfix
//     operators that bind tighter than any unary or binary operator, so
//     `a|f + 1` is f(a)+1 and `!a|f` is !(f(a));
//   - the ternary `t ? a : b` takes everything before "?" as its test and
//     `t ?: b` returns t when it is truthy;
//   - "-" directly before a number literal in operand position is a negative
//     literal; strings use ' or " with \' / \" escapes and nothing else;
//   - a filter `a[expr]` is relative (keeps the elements for which expr is
//     truthy, with `.x` naming a property of the element) when a relative
//     identifier occurs in expr outside nested parentheses, brackets, braces,
//     call arguments and ternary branches.
//
// Extensions (accepted here, rejected by JEXL): unary minus on any operand,
// indexing after literals and parentheses, a ternary after a transform,
// string keys in object literals, and calling a transform as a function,
// f(a, b), which is the same as a|f(b).

type tokKind uint8

const (
	tEOF tokKind = iota
	tNum
	tStr
	tBool
	tIdent
	tOp // binary operator, including "in"
	tNot
	tDot
	tLBrack
	tRBrack
	tPipe
	tLCurl
	tRCurl
	tColon
	tComma
	tLParen
	tRParen
	tQuestion
)

type token struct {
	kind tokKind
	pos  int
	text string // raw text (operator, identifier)
	num  float64
	str  string
	b    bool
}

var precedence = map[string]int{
	"||": 10, "&&": 10,
	"==": 20, "!=": 20, "<": 20, "<=": 20, ">": 20, ">=": 20, "in": 20,
	"+": 30, "-": 30,
	"*": 40, "/": 40, "//": 40,
	"%": 50, "^": 50,
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isIdentStart mirrors JEXL's identifier class: ASCII letters, _ and $,
// Latin-1 letters and the basic Cyrillic alphabet.
func isIdentStart(r rune) bool {
	switch {
	case r == '_' || r == '$', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		return true
	case r >= 0xC0 && r <= 0xFF && r != 0xD7 && r != 0xF7:
		return true
	case r >= 0x410 && r <= 0x44F: // А-Я а-я
		return true
	}
	return false
}

func isIdentPart(r rune) bool { return isIdentStart(r) || (r >= '0' && r <= '9') }

// boundaryAt reports a JavaScript \b (ASCII word) boundary at byte offset i.
func boundaryAt(s string, i int) bool {
	before := i > 0 && isWordByte(s[i-1])
	after := i < len(s) && isWordByte(s[i])
	return before != after
}

func lex(src string) ([]token, *SyntaxError) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case c == '\'' || c == '"':
			end, ok := scanString(src, i)
			if !ok {
				return nil, &SyntaxError{Pos: i, Msg: "unterminated string literal"}
			}
			toks = append(toks, token{kind: tStr, pos: i, text: src[i:end], str: unquote(src[i:end])})
			i = end
			continue
		case isJSSpace(r):
			i += size
			continue
		}
		if w, ok := wordAt(src, i, "true"); ok {
			toks = append(toks, token{kind: tBool, pos: i, text: w, b: true})
			i += len(w)
			continue
		}
		if w, ok := wordAt(src, i, "false"); ok {
			toks = append(toks, token{kind: tBool, pos: i, text: w})
			i += len(w)
			continue
		}
		if w, ok := wordAt(src, i, "in"); ok {
			toks = append(toks, token{kind: tOp, pos: i, text: w})
			i += len(w)
			continue
		}
		if i+1 < len(src) {
			switch two := src[i : i+2]; two {
			case "//", "==", "!=", ">=", "<=", "&&", "||":
				toks = append(toks, token{kind: tOp, pos: i, text: two})
				i += 2
				continue
			}
		}
		kind := tEOF
		switch c {
		case '.':
			kind = tDot
		case '[':
			kind = tLBrack
		case ']':
			kind = tRBrack
		case '|':
			kind = tPipe
		case '{':
			kind = tLCurl
		case '}':
			kind = tRCurl
		case ':':
			kind = tColon
		case ',':
			kind = tComma
		case '(':
			kind = tLParen
		case ')':
			kind = tRParen
		case '?':
			kind = tQuestion
		case '!':
			kind = tNot
		case '+', '-', '*', '/', '%', '^', '<', '>':
			kind = tOp
		}
		if kind != tEOF {
			toks = append(toks, token{kind: kind, pos: i, text: src[i : i+1]})
			i++
			continue
		}
		if isIdentStart(r) {
			j := i + size
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isIdentPart(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{kind: tIdent, pos: i, text: src[i:j]})
			i = j
			continue
		}
		if c >= '0' && c <= '9' {
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			f, _ := strconv.ParseFloat(src[i:j], 64)
			toks = append(toks, token{kind: tNum, pos: i, text: src[i:j], num: f})
			i = j
			continue
		}
		if r == utf8.RuneError && size <= 1 {
			return nil, &SyntaxError{Pos: i, Msg: "invalid UTF-8 in expression"}
		}
		return nil, &SyntaxError{Pos: i, Msg: "invalid expression token " + strconv.Quote(string(r))}
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

// wordAt matches a keyword delimited by \b on both sides, as JEXL's regex does.
func wordAt(src string, i int, w string) (string, bool) {
	if strings.HasPrefix(src[i:], w) && boundaryAt(src, i) && boundaryAt(src, i+len(w)) {
		return w, true
	}
	return "", false
}

// scanString finds the end of the string literal starting at i with the
// semantics of JEXL's regex '(?:(?:\\')|[^'])*': the first unescaped quote
// closes it; failing that, the quote of the last \' does.
func scanString(src string, i int) (int, bool) {
	q := src[i]
	lastEsc := -1
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if j+1 < len(src) && src[j+1] == q {
				lastEsc = j + 1
				j++
			}
		case q:
			return j + 1, true
		}
	}
	if lastEsc >= 0 {
		return lastEsc + 1, true
	}
	return 0, false
}

// unquote mirrors JEXL's _unquote: strip the quotes, turn \<quote> into the
// quote and the first \\ into \; every other backslash stays as written.
func unquote(raw string) string {
	q := raw[:1]
	s := raw[1 : len(raw)-1]
	s = strings.ReplaceAll(s, `\`+q, q)
	return strings.Replace(s, `\\`, `\`, 1)
}

// ---- parser ----

type nodeKind uint8

const (
	nLit    nodeKind = iota // val
	nVar                    // context identifier: name
	nRel                    // relative identifier .name
	nMember                 // a.name
	nIndex                  // a[b] (static filter)
	nFilter                 // a[b] (relative filter)
	nBin                    // a op b
	nNot                    // !a
	nNeg                    // -a
	nCond                   // a ? b : c (b nil for a ?: c)
	nArr                    // [list...]
	nObj                    // {keys: list}
	nCall                   // name(list...) (transforms get the subject first)
)

type node struct {
	kind nodeKind
	pos  int
	name string // operator, identifier, property, transform
	val  any
	a    *node
	b    *node
	c    *node
	list []*node
	keys []string
}

type jexlParser struct {
	src      string
	toks     []token
	i        int
	nodes    int
	maxNodes int
	depth    int
	rel      []int8 // relative-filter frames: -1 blocked, 0 none seen, 1 relative
	closers  int    // open constructs other than parentheses that need their closer
	starts   []int  // index of the first token of each enclosing (sub)expression
	known    func(string) bool
}

const maxDepth = 256

type parseAbort struct{ err *SyntaxError }

func (p *jexlParser) fail(pos int, msg string) {
	panic(parseAbort{&SyntaxError{Pos: pos, Msg: msg}})
}

func (p *jexlParser) peek() token { return p.toks[p.i] }

func (p *jexlParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *jexlParser) expect(k tokKind, what string) token {
	t := p.peek()
	if t.kind != k {
		p.unexpected(t, what)
	}
	return p.next()
}

func (p *jexlParser) unexpected(t token, want string) {
	msg := "unexpected "
	if t.kind == tEOF {
		msg += "end of expression"
	} else {
		msg += "token " + strconv.Quote(p.src[t.pos:t.pos+tokLen(t)])
	}
	if want != "" {
		msg += ", expected " + want
	}
	p.fail(t.pos, msg)
}

func tokLen(t token) int {
	if t.text != "" {
		return len(t.text)
	}
	return 1
}

func (p *jexlParser) mk(kind nodeKind, pos int) *node {
	p.nodes++
	if p.maxNodes > 0 && p.nodes > p.maxNodes {
		panic(parseAbort{&SyntaxError{Pos: pos, Msg: "expression too complex (more than " + strconv.Itoa(p.maxNodes) + " nodes)", Err: ErrLimit}})
	}
	return &node{kind: kind, pos: pos}
}

func (p *jexlParser) enter(pos int) {
	p.depth++
	if p.depth > maxDepth {
		panic(parseAbort{&SyntaxError{Pos: pos, Msg: "expression nested too deeply", Err: ErrLimit}})
	}
}

func (p *jexlParser) leave() { p.depth-- }

func (p *jexlParser) pushFrame(v int8) { p.rel = append(p.rel, v) }
func (p *jexlParser) popFrame() int8 {
	v := p.rel[len(p.rel)-1]
	p.rel = p.rel[:len(p.rel)-1]
	return v
}

func parse(src string, maxNodes int, known func(string) bool) (root *node, err *SyntaxError) {
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr
	}
	p := &jexlParser{src: src, toks: toks, maxNodes: maxNodes, known: known, starts: []int{0}}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(parseAbort)
			if !ok {
				panic(r)
			}
			root, err = nil, a.err
		}
	}()
	if p.peek().kind == tEOF {
		p.fail(0, "empty expression")
	}
	root = p.expr()
	if t := p.peek(); t.kind != tEOF {
		p.unexpected(t, "operator or end of expression")
	}
	return root, nil
}

func (p *jexlParser) expr() *node {
	p.enter(p.peek().pos)
	defer p.leave()
	test := p.binary(0)
	if t := p.peek(); t.kind == tQuestion {
		p.next()
		n := p.mk(nCond, t.pos)
		n.a = test
		p.pushFrame(-1)
		if p.peek().kind != tColon {
			p.closers++ // the consequent needs its ":"
			n.b = p.expr()
			p.closers--
		}
		p.expect(tColon, `":"`)
		p.starts = append(p.starts, p.i)
		n.c = p.expr()
		p.starts = p.starts[:len(p.starts)-1]
		p.popFrame()
		return n
	}
	return test
}

func (p *jexlParser) binary(minPrec int) *node {
	left := p.unary()
	for {
		t := p.peek()
		if t.kind != tOp {
			return left
		}
		prec := precedence[t.text]
		if prec < minPrec {
			return left
		}
		p.next()
		n := p.mk(nBin, t.pos)
		n.name = t.text
		n.a = left
		p.enter(t.pos)
		n.b = p.binary(prec + 1)
		p.leave()
		left = n
	}
}

func (p *jexlParser) unary() *node {
	t := p.peek()
	switch {
	case t.kind == tNot:
		p.next()
		n := p.mk(nNot, t.pos)
		p.enter(t.pos)
		n.a = p.unary()
		p.leave()
		return n
	case t.kind == tOp && t.text == "-":
		p.next()
		if num := p.peek(); num.kind == tNum {
			p.next()
			n := p.mk(nLit, t.pos)
			n.val = -num.num
			return p.postfix(n)
		}
		n := p.mk(nNeg, t.pos)
		p.enter(t.pos)
		n.a = p.unary()
		p.leave()
		return n
	}
	return p.postfix(p.primary())
}

func (p *jexlParser) primary() *node {
	t := p.next()
	switch t.kind {
	case tNum:
		n := p.mk(nLit, t.pos)
		n.val = t.num
		return n
	case tStr:
		n := p.mk(nLit, t.pos)
		n.val = t.str
		return n
	case tBool:
		n := p.mk(nLit, t.pos)
		n.val = t.b
		return n
	case tIdent:
		if p.peek().kind == tLParen {
			n := p.mk(nCall, t.pos)
			n.name = p.transformName(t)
			p.next()
			n.list = p.list(tRParen, `")"`)
			return n
		}
		n := p.mk(nVar, t.pos)
		n.name = t.text
		return n
	case tDot:
		id := p.expect(tIdent, "identifier")
		n := p.mk(nRel, t.pos)
		n.name = id.text
		if len(p.rel) > 0 && p.rel[len(p.rel)-1] >= 0 {
			p.rel[len(p.rel)-1] = 1
		}
		return n
	case tLParen:
		atStart := p.i-1 == p.starts[len(p.starts)-1]
		p.pushFrame(-1)
		p.starts = append(p.starts, p.i)
		n := p.expr()
		p.starts = p.starts[:len(p.starts)-1]
		p.popFrame()
		if p.peek().kind == tEOF && p.closers == 0 && atStart {
			// JEXL accepts a parenthesis left open at the end when it
			// opens its enclosing expression: "(v + 1" is v + 1.
			return n
		}
		p.expect(tRParen, `")"`)
		return n
	case tLBrack:
		n := p.mk(nArr, t.pos)
		n.list = p.list(tRBrack, `"]"`)
		return n
	case tLCurl:
		n := p.mk(nObj, t.pos)
		p.pushFrame(-1)
		p.closers++
		for p.peek().kind != tRCurl {
			k := p.next()
			switch k.kind {
			case tIdent:
				n.keys = append(n.keys, k.text)
			case tStr:
				n.keys = append(n.keys, k.str)
			default:
				p.unexpected(k, "object key")
			}
			p.expect(tColon, `":"`)
			n.list = append(n.list, p.expr())
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
		p.popFrame()
		p.expect(tRCurl, `"}"`)
		p.closers--
		return n
	}
	p.i-- // point the error at the token, not after it
	if t.kind == tEOF {
		p.i = len(p.toks) - 1
	}
	p.unexpected(t, "operand")
	return nil
}

// list parses comma-separated expressions up to the closing token. Empty
// elements are skipped, as in JEXL ([1,,2] is [1,2]).
func (p *jexlParser) list(end tokKind, endText string) []*node {
	var out []*node
	p.pushFrame(-1)
	p.closers++
	for {
		switch p.peek().kind {
		case end:
			p.next()
			p.popFrame()
			p.closers--
			return out
		case tComma:
			p.next()
			continue
		}
		out = append(out, p.expr())
		if k := p.peek().kind; k != tComma && k != end {
			p.unexpected(p.peek(), `"," or `+endText)
		}
	}
}

func (p *jexlParser) transformName(t token) string {
	if p.known != nil && !p.known(t.text) {
		panic(parseAbort{&SyntaxError{Pos: t.pos, Msg: "unknown transform " + strconv.Quote(t.text), Err: ErrUnknownTransform}})
	}
	return t.text
}

func (p *jexlParser) postfix(n *node) *node {
	for {
		t := p.peek()
		switch t.kind {
		case tDot:
			p.next()
			id := p.expect(tIdent, "property name")
			m := p.mk(nMember, id.pos)
			m.a, m.name = n, id.text
			n = m
		case tLBrack:
			p.next()
			if p.peek().kind == tRBrack {
				p.unexpected(p.peek(), "index expression")
			}
			p.pushFrame(0)
			p.closers++
			idx := p.expr()
			rel := p.popFrame() == 1
			p.expect(tRBrack, `"]"`)
			p.closers--
			kind := nIndex
			if rel {
				kind = nFilter
			}
			f := p.mk(kind, t.pos)
			f.a, f.b = n, idx
			n = f
		case tPipe:
			p.next()
			id := p.expect(tIdent, "transform name")
			c := p.mk(nCall, id.pos)
			c.name = p.transformName(id)
			c.list = []*node{n}
			if p.peek().kind == tLParen {
				p.next()
				c.list = append(c.list, p.list(tRParen, `")"`)...)
			}
			n = c
		default:
			return n
		}
	}
}
