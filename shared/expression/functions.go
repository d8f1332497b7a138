package expression

import (
	"math"
	"slices"
	"strings"
	"unicode/utf16"
)

// fn is the shape of every function the generated program may call. args
// are the raw call arguments (read them with arg); the slice is reused by
// the VM and must not be retained.
type fn func(rt *runtime, args []any) (any, error)

// bind adapts f to expr-lang's function type for one program. Transform
// errors are prefixed with the transform's name.
func (rt *runtime) bind(name string, f fn) func(params ...any) (any, error) {
	if name[0] == '$' {
		return func(params ...any) (any, error) { return f(rt, params) }
	}
	return func(params ...any) (any, error) {
		v, err := f(rt, params)
		if err != nil {
			return nil, &transformError{name: name, err: err}
		}
		return v, nil
	}
}

type transformError struct {
	name string
	err  error
}

func (e *transformError) Error() string { return e.name + ": " + e.err.Error() }
func (e *transformError) Unwrap() error { return e.err }

// arg returns the i-th argument normalized, or undefined when missing.
func arg(args []any, i int) any {
	if i < len(args) {
		return norm(args[i])
	}
	return undefined
}

func lookupFunc(name string) fn {
	if f, ok := internalFuncs[name]; ok {
		return f
	}
	return transforms[name]
}

func isTransform(name string) bool {
	_, ok := transforms[name]
	return ok
}

// TransformNames returns the names of all transforms, sorted.
func TransformNames() []string {
	names := make([]string, 0, len(transforms))
	for k := range transforms {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// ---- operators and property access (JEXL semantics on JS values) ----

var internalFuncs = map[string]fn{
	"$var": func(_ *runtime, a []any) (any, error) { return lookupVar(a[0], a[1].(string)), nil },
	"$rel": func(_ *runtime, a []any) (any, error) {
		ctx := norm(a[0])
		if !truthy(ctx) {
			// JEXL evaluates the predicate with relContext = elem || context,
			// so a falsy element reads the top-level context.
			return lookupVar(a[2], a[1].(string)), nil
		}
		return propertyOf(ctx, a[1].(string))
	},
	"$get": func(_ *runtime, a []any) (any, error) {
		ctx := norm(a[0])
		switch c := ctx.(type) {
		case nil, undefinedType:
			return undefined, nil
		case []any:
			// JEXL reads a property of an array from its first element.
			if len(c) == 0 {
				return nil, readPropError(undefined, a[1].(string))
			}
			ctx = norm(c[0])
			switch ctx.(type) {
			case nil, undefinedType:
				return nil, readPropError(ctx, a[1].(string))
			}
		}
		return propertyOf(ctx, a[1].(string))
	},
	"$index": func(_ *runtime, a []any) (any, error) {
		subject, key := norm(a[0]), norm(a[1])
		if b, ok := key.(bool); ok {
			if b {
				return subject, nil
			}
			return undefined, nil
		}
		k := propertyKey(key)
		switch subject.(type) {
		case nil, undefinedType:
			return nil, readPropError(subject, k)
		}
		return propertyOf(subject, k)
	},
	"$toarr": func(_ *runtime, a []any) (any, error) {
		switch v := norm(a[0]).(type) {
		case []any:
			return v, nil
		case undefinedType:
			return []any{}, nil
		default:
			return []any{v}, nil
		}
	},
	"$truthy": func(_ *runtime, a []any) (any, error) { return truthy(norm(a[0])), nil },
	"$not":    func(_ *runtime, a []any) (any, error) { return !truthy(norm(a[0])), nil },
	"$neg":    func(_ *runtime, a []any) (any, error) { return -toNumber(norm(a[0])), nil },
	"$add":    func(rt *runtime, a []any) (any, error) { return jsAdd(rt, norm(a[0]), norm(a[1])) },
	"$sub":    func(_ *runtime, a []any) (any, error) { return toNumber(norm(a[0])) - toNumber(norm(a[1])), nil },
	"$mul":    func(_ *runtime, a []any) (any, error) { return toNumber(norm(a[0])) * toNumber(norm(a[1])), nil },
	"$div":    func(_ *runtime, a []any) (any, error) { return toNumber(norm(a[0])) / toNumber(norm(a[1])), nil },
	"$idiv": func(_ *runtime, a []any) (any, error) {
		return math.Floor(toNumber(norm(a[0])) / toNumber(norm(a[1]))), nil
	},
	"$mod": func(_ *runtime, a []any) (any, error) {
		return math.Mod(toNumber(norm(a[0])), toNumber(norm(a[1]))), nil
	},
	"$pow": func(_ *runtime, a []any) (any, error) { return jsPow(toNumber(norm(a[0])), toNumber(norm(a[1]))), nil },
	"$eq":  func(_ *runtime, a []any) (any, error) { return looseEqual(norm(a[0]), norm(a[1])), nil },
	"$ne":  func(_ *runtime, a []any) (any, error) { return !looseEqual(norm(a[0]), norm(a[1])), nil },
	"$lt": func(_ *runtime, a []any) (any, error) {
		r, ok := lessThan(norm(a[0]), norm(a[1]))
		return ok && r, nil
	},
	"$gt": func(_ *runtime, a []any) (any, error) {
		r, ok := lessThan(norm(a[1]), norm(a[0]))
		return ok && r, nil
	},
	"$le": func(_ *runtime, a []any) (any, error) {
		r, ok := lessThan(norm(a[1]), norm(a[0]))
		return ok && !r, nil
	},
	"$ge": func(_ *runtime, a []any) (any, error) {
		r, ok := lessThan(norm(a[0]), norm(a[1]))
		return ok && !r, nil
	},
	"$in": func(_ *runtime, a []any) (any, error) {
		left := norm(a[0])
		switch r := norm(a[1]).(type) {
		case string:
			return indexOf16(r, toString(left), 0) != -1, nil
		case []any:
			for _, e := range r {
				if strictEqual(norm(e), left) {
					return true, nil
				}
			}
		}
		return false, nil
	},
	"$obj": func(_ *runtime, a []any) (any, error) {
		o := newObject(len(a) / 2)
		for i := 0; i+1 < len(a); i += 2 {
			o.set(a[i].(string), norm(a[i+1]))
		}
		return o, nil
	},
}

// jsAdd implements the + operator.
func jsAdd(rt *runtime, a, b any) (any, error) {
	l, r := toPrimitive(a), toPrimitive(b)
	if lf, ok := l.(float64); ok {
		if rf, ok := r.(float64); ok {
			return lf + rf, nil
		}
	}
	_, ls := l.(string)
	_, rs := r.(string)
	if ls || rs {
		s1, s2 := toString(l), toString(r)
		if len(s1)+len(s2) > rt.opts.MaxStringLen {
			return nil, errLimit("string longer than %d bytes", rt.opts.MaxStringLen)
		}
		return s1 + s2, nil
	}
	return toNumber(l) + toNumber(r), nil
}

// lookupVar reads a context variable; a missing one is undefined.
func lookupVar(env any, name string) any {
	var v any
	var ok bool
	switch e := env.(type) {
	case map[string]any:
		v, ok = e[name]
	case *varEnv:
		v, ok = e.get(name)
	}
	if !ok {
		return undefined
	}
	return norm(v)
}

// propertyKey implements ToPropertyKey for the values an index can have.
func propertyKey(v any) string { return toString(v) }

func readPropError(v any, key string) error {
	return jsErrorf(ErrTypeError, "Cannot read properties of %s (reading '%s')", toString(v), key)
}

// propertyOf reads property key of a non-null value as JavaScript does for
// plain data: array and string indexes and length, and own object keys.
// Inherited properties (methods) read as undefined.
func propertyOf(v any, key string) (any, error) {
	switch x := v.(type) {
	case string:
		if key == "length" {
			return float64(len16(x)), nil
		}
		if i, ok := arrayIndex(key); ok {
			if isASCII(x) {
				if int(i) < len(x) {
					return x[i : i+1], nil
				}
				return undefined, nil
			}
			u := to16(x)
			if int(i) < len(u) {
				return from16(u[i : i+1]), nil
			}
		}
		return undefined, nil
	case []any:
		if key == "length" {
			return float64(len(x)), nil
		}
		if i, ok := arrayIndex(key); ok && int(i) < len(x) {
			return norm(x[i]), nil
		}
		return undefined, nil
	case *object, map[string]any:
		if e, ok := objGet(x, key); ok {
			return norm(e), nil
		}
		return undefined, nil
	}
	return undefined, nil
}

// ---- helpers shared by transforms ----

// requireString returns v when it is a string, else the TypeError that
// calling method on it would throw in JavaScript.
func requireString(v any, expr, method string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil, undefinedType:
		return "", readPropError(x, method)
	}
	return "", notAFunction(expr + "." + method)
}

func requireArray(v any, expr, method string) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case nil, undefinedType:
		return nil, readPropError(x, method)
	}
	return nil, notAFunction(expr + "." + method)
}

// relIndex resolves a relative start/end argument as Array.prototype.slice does.
func relIndex(v any, length int, dflt int) int {
	if v == undefined {
		return dflt
	}
	f := toIntegerOrInfinity(v)
	if f < 0 {
		f = math.Max(float64(length)+f, 0)
	} else {
		f = math.Min(f, float64(length))
	}
	return int(f)
}

// jsSet is an insertion-ordered set with SameValueZero membership.
type jsSet struct {
	items []any
	prim  map[setKey]int
}

type setKey struct {
	kind byte
	f    float64
	s    string
}

func primKey(v any) (setKey, bool) {
	switch x := v.(type) {
	case undefinedType:
		return setKey{kind: 'u'}, true
	case nil:
		return setKey{kind: 'n'}, true
	case bool:
		if x {
			return setKey{kind: 't'}, true
		}
		return setKey{kind: 'f'}, true
	case float64:
		if x != x {
			return setKey{kind: 'N'}, true
		}
		if x == 0 {
			x = 0
		}
		return setKey{kind: 'd', f: x}, true
	case string:
		return setKey{kind: 's', s: x}, true
	}
	return setKey{}, false
}

func (s *jsSet) index(v any) int {
	if k, ok := primKey(v); ok {
		if i, ok := s.prim[k]; ok {
			return i
		}
		return -1
	}
	for i, e := range s.items {
		if sameRef(e, v) {
			return i
		}
	}
	return -1
}

func (s *jsSet) add(v any) {
	if s.index(v) >= 0 {
		return
	}
	if f, ok := v.(float64); ok && f == 0 {
		v = float64(0) // Set normalizes -0 to +0
	}
	if k, ok := primKey(v); ok {
		if s.prim == nil {
			s.prim = map[setKey]int{}
		}
		s.prim[k] = len(s.items)
	}
	s.items = append(s.items, v)
}

func (s *jsSet) remove(v any) {
	i := s.index(v)
	if i < 0 {
		return
	}
	s.items = append(s.items[:i:i], s.items[i+1:]...)
	s.prim = nil
	items := s.items
	s.items = nil
	for _, e := range items {
		s.add(e)
	}
}

// newSet implements new Set(iterable).
func newSet(v any) (*jsSet, error) {
	s := &jsSet{}
	switch x := v.(type) {
	case nil, undefinedType:
	case []any:
		for _, e := range x {
			s.add(norm(e))
		}
	case string:
		for _, r := range x {
			s.add(string(r))
		}
	default:
		return nil, jsErrorf(ErrTypeError, "%s is not iterable", typeOf(x)+" "+toString(x))
	}
	return s, nil
}

// entries implements Object.entries for the value kinds the engine has.
func entries(v any) ([]string, []any, error) {
	switch x := v.(type) {
	case nil, undefinedType:
		return nil, nil, jsErrorf(ErrTypeError, "Cannot convert undefined or null to object")
	case []any:
		keys := make([]string, len(x))
		vals := make([]any, len(x))
		for i, e := range x {
			keys[i] = numberToString(float64(i))
			vals[i] = norm(e)
		}
		return keys, vals, nil
	case string:
		u := to16(x)
		keys := make([]string, len(u))
		vals := make([]any, len(u))
		for i := range u {
			keys[i] = numberToString(float64(i))
			vals[i] = from16(u[i : i+1])
		}
		return keys, vals, nil
	case *object, map[string]any:
		keys := objKeys(x)
		vals := make([]any, len(keys))
		for i, k := range keys {
			e, _ := objGet(x, k)
			vals[i] = norm(e)
		}
		return keys, vals, nil
	}
	return nil, nil, nil
}

// hexToString implements the hextostring transform: split into 1–2 code
// unit chunks (the regex /.{1,2}/g; "." skips line terminators), parse each
// as hex into a byte, and decode the bytes as UTF-8 like TextDecoder.
func hexToString(s string) (any, error) {
	u := to16(s)
	var chunks [][]uint16
	for i := 0; i < len(u); {
		if isLineTerminator(u[i]) {
			i++
			continue
		}
		j := i + 1
		if j < len(u) && !isLineTerminator(u[j]) {
			j++
		}
		chunks = append(chunks, u[i:j])
		i = j
	}
	if len(chunks) == 0 {
		return nil, readPropError(nil, "map")
	}
	b := make([]byte, len(chunks))
	for i, c := range chunks {
		f := parseIntRadix(string(utf16.Decode(c)), 16)
		if f != f {
			f = 0
		}
		b[i] = byte(int64(math.Mod(math.Trunc(f), 256)+256) % 256)
	}
	return decodeUTF8WHATWG(b), nil
}

func isLineTerminator(c uint16) bool {
	return c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029
}

// decodeUTF8WHATWG decodes b as the WHATWG UTF-8 decoder does: a leading
// BOM is dropped and each maximal invalid subsequence becomes one U+FFFD.
func decodeUTF8WHATWG(b []byte) string {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		b = b[3:]
	}
	var sb strings.Builder
	i := 0
	for i < len(b) {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		var need int
		var cp rune
		lower, upper := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need, cp = 1, rune(c&0x1F)
		case c >= 0xE0 && c <= 0xEF:
			if c == 0xE0 {
				lower = 0xA0
			}
			if c == 0xED {
				upper = 0x9F
			}
			need, cp = 2, rune(c&0x0F)
		case c >= 0xF0 && c <= 0xF4:
			if c == 0xF0 {
				lower = 0x90
			}
			if c == 0xF4 {
				upper = 0x8F
			}
			need, cp = 3, rune(c&0x07)
		default:
			sb.WriteRune(0xFFFD)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) || b[j] < lower || b[j] > upper {
				ok = false
				break
			}
			cp = cp<<6 | rune(b[j]&0x3F)
			lower, upper = 0x80, 0xBF
			j++
		}
		if !ok {
			sb.WriteRune(0xFFFD)
			i = j // the maximal subpart consumed so far; the offending byte is re-read
			continue
		}
		sb.WriteRune(cp)
		i = j
	}
	return sb.String()
}
