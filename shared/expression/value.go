package expression

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Inside the engine every value is one of the JavaScript-like types below:
//
//	undefinedType  JavaScript undefined
//	nil            null
//	bool, float64, string
//	[]any          Array (elements may still be raw caller values; see norm)
//	*object        Object created by the expression (ordered keys)
//	map[string]any Object handed in by the caller (keys iterated in JS order of a sorted set)
//
// Values that come from the caller's environment are normalized lazily by norm
// at the moment they are read, so a large reading costs nothing unless used.

// undefinedType is JavaScript's undefined value.
type undefinedType struct{}

// undefined is the only value of undefinedType.
var undefined = undefinedType{}

// object is a JavaScript plain object created by an expression (object
// literal, jsonparse). It remembers insertion order so JSON output matches
// JSON.stringify.
type object struct {
	keys []string
	m    map[string]any
}

func newObject(n int) *object {
	return &object{keys: make([]string, 0, n), m: make(map[string]any, n)}
}

func (o *object) set(k string, v any) {
	if _, ok := o.m[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.m[k] = v
}

// ownKeys returns the keys in JavaScript property order: array-index keys in
// ascending numeric order first, then the other keys in insertion order.
func (o *object) ownKeys() []string { return jsKeyOrder(o.keys, false) }

// jsKeyOrder orders keys as JavaScript's OrdinaryOwnPropertyKeys does. When
// sortRest is set (Go maps have no order) the non-index keys are sorted too.
func jsKeyOrder(keys []string, sortRest bool) []string {
	nIdx := 0
	for _, k := range keys {
		if _, ok := arrayIndex(k); ok {
			nIdx++
		}
	}
	if nIdx == 0 && !sortRest {
		return keys
	}
	idx := make([]string, 0, nIdx)
	rest := make([]string, 0, len(keys)-nIdx)
	for _, k := range keys {
		if _, ok := arrayIndex(k); ok {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	sort.Slice(idx, func(i, j int) bool {
		a, _ := arrayIndex(idx[i])
		b, _ := arrayIndex(idx[j])
		return a < b
	})
	if sortRest {
		sort.Strings(rest)
	}
	return append(idx, rest...)
}

// arrayIndex reports whether k is a canonical array index ("0", "17", not "017").
func arrayIndex(k string) (uint32, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(k, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// objKeys returns the own keys of an object value in JS order.
func objKeys(v any) []string {
	switch o := v.(type) {
	case *object:
		return o.ownKeys()
	case map[string]any:
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		return jsKeyOrder(keys, true)
	}
	return nil
}

// objGet reads a property of an object value.
func objGet(v any, k string) (any, bool) {
	switch o := v.(type) {
	case *object:
		x, ok := o.m[k]
		return x, ok
	case map[string]any:
		x, ok := o[k]
		return x, ok
	}
	return nil, false
}

// norm converts a caller-supplied Go value into an engine value (shallow:
// elements of arrays and objects are normalized when they are read).
func norm(v any) any {
	switch x := v.(type) {
	case nil, float64, string, bool, undefinedType, []any, *object, map[string]any:
		return v
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case int16:
		return float64(x)
	case int8:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case uint16:
		return float64(x)
	case uint8:
		return float64(x)
	case float32:
		return float64(x)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return math.NaN()
		}
		return f
	case time.Time:
		return isoString(float64(x.UnixMilli()))
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = f
		}
		return out
	case json.RawMessage:
		r, err := parseJSON(string(x))
		if err != nil {
			return undefined
		}
		return r
	}
	return normReflect(reflect.ValueOf(v))
}

func normReflect(rv reflect.Value) any {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return norm(rv.Elem().Interface())
	case reflect.Slice:
		if rv.IsNil() {
			return nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[it.Key().String()] = it.Value().Interface()
		}
		return out
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	// Structs and other values: take what encoding/json would send.
	b, err := json.Marshal(rv.Interface())
	if err != nil {
		return undefined
	}
	r, err := parseJSON(string(b))
	if err != nil {
		return undefined
	}
	return r
}

// export converts an engine value into the plain Go value returned by Eval:
// undefined becomes nil, objects become map[string]any (dropping undefined
// properties as JSON.stringify does) and -0 becomes 0.
func export(v any) any {
	switch x := norm(v).(type) {
	case undefinedType:
		return nil
	case float64:
		if x == 0 {
			return float64(0)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = export(e)
		}
		return out
	case *object:
		out := make(map[string]any, len(x.keys))
		for _, k := range x.keys {
			if e := norm(x.m[k]); e != undefined {
				out[k] = export(e)
			}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e := norm(e); e != undefined {
				out[k] = export(e)
			}
		}
		return out
	default:
		return x
	}
}

// ---- JavaScript abstract operations ----

func typeOf(v any) string {
	switch v.(type) {
	case undefinedType:
		return "undefined"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	}
	return "object"
}

func truthy(v any) bool {
	switch x := v.(type) {
	case undefinedType, nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && x == x
	case string:
		return x != ""
	}
	return true
}

// toPrimitive implements ToPrimitive for plain arrays and objects (their
// valueOf returns the object itself, so toString is used).
func toPrimitive(v any) any {
	switch v.(type) {
	case []any, *object, map[string]any:
		return toString(v)
	}
	return v
}

func toNumber(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case undefinedType:
		return math.NaN()
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		return stringToNumber(x)
	case []any, *object, map[string]any:
		return toNumber(toPrimitive(x))
	}
	return math.NaN()
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return numberToString(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	case undefinedType:
		return "undefined"
	case []any:
		return joinArray(x, ",")
	case *object, map[string]any:
		return "[object Object]"
	}
	return "undefined"
}

func joinArray(a []any, sep string) string {
	var b strings.Builder
	for i, e := range a {
		if i > 0 {
			b.WriteString(sep)
		}
		switch e := norm(e).(type) {
		case nil, undefinedType:
		default:
			b.WriteString(toString(e))
		}
	}
	return b.String()
}

// toIntegerOrInfinity implements the ECMAScript operation of that name.
func toIntegerOrInfinity(v any) float64 {
	f := toNumber(v)
	if f != f || f == 0 {
		return 0
	}
	return math.Trunc(f)
}

// toInt32 implements ToInt32.
func toInt32(f float64) int32 {
	if f != f || math.IsInf(f, 0) {
		return 0
	}
	f = math.Trunc(f)
	f = math.Mod(f, 4294967296)
	if f < 0 {
		f += 4294967296
	}
	return int32(uint32(f))
}

func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func trimJS(s string) string {
	return strings.TrimFunc(s, isJSSpace)
}

// stringToNumber implements StringToNumber.
func stringToNumber(s string) float64 {
	s = trimJS(s)
	if s == "" {
		return 0
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			f, ok := parseRadix(s[2:], base)
			if !ok || len(s[2:]) != digitPrefix(s[2:], base) {
				return math.NaN()
			}
			return f
		}
	}
	n, ok := decimalPrefix(s)
	if !ok || n != len(s) {
		return math.NaN()
	}
	return parseDecimal(s)
}

// decimalPrefix returns the length of the longest prefix of s that is a
// StrDecimalLiteral ([+-] Infinity | digits[.digits][e[+-]digits] | .digits[...]).
func decimalPrefix(s string) (int, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if strings.HasPrefix(s[i:], "Infinity") {
		return i + 8, true
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intDigits := i - start
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		fracDigits = j - i - 1
		if intDigits > 0 || fracDigits > 0 {
			i = j
		}
	}
	if intDigits == 0 && fracDigits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i, true
}

// parseDecimal parses a string accepted by decimalPrefix.
func parseDecimal(s string) float64 {
	sign := 1.0
	t := s
	if t != "" && (t[0] == '+' || t[0] == '-') {
		if t[0] == '-' {
			sign = -1
		}
		t = t[1:]
	}
	if t == "Infinity" {
		return sign * math.Inf(1)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !math.IsInf(f, 0) {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return sign * f
		}
		return math.NaN()
	}
	return sign * f
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

func digitPrefix(s string, base int) int {
	i := 0
	for i < len(s) && digitVal(s[i]) < base {
		i++
	}
	return i
}

// parseRadix parses the leading digits of s in the given base, rounding to
// the nearest float64 like V8 does for power-of-two radices.
func parseRadix(s string, base int) (float64, bool) {
	n := digitPrefix(s, base)
	if n == 0 {
		return math.NaN(), false
	}
	if base == 10 {
		f, _ := strconv.ParseFloat(s[:n], 64)
		return f, true
	}
	var f float64
	exact := true
	for i := 0; i < n; i++ {
		f = f*float64(base) + float64(digitVal(s[i]))
		if f >= 1<<53 {
			exact = false
			break
		}
	}
	if exact {
		return f, true
	}
	// Long input: round the exact integer once.
	bi, ok := new(big.Int).SetString(s[:n], base)
	if !ok {
		return math.NaN(), false
	}
	f, _ = new(big.Float).SetInt(bi).Float64()
	return f, true
}

// ---- equality and comparison ----

// sameRef reports whether two arrays or objects are the same JS object.
func sameRef(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && unsafe.SliceData(x) == unsafe.SliceData(y)
	case *object:
		y, ok := b.(*object)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	}
	return false
}

// looseEqual implements JavaScript's == operator.
func looseEqual(a, b any) bool {
	switch x := a.(type) {
	case undefinedType, nil:
		switch b.(type) {
		case undefinedType, nil:
			return true
		}
		return false
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case string:
			return x == stringToNumber(y)
		case bool:
			return x == toNumber(y)
		case []any, *object, map[string]any:
			return looseEqual(x, toPrimitive(y))
		}
		return false
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case float64:
			return stringToNumber(x) == y
		case bool:
			return stringToNumber(x) == toNumber(y)
		case []any, *object, map[string]any:
			return looseEqual(x, toPrimitive(y))
		}
		return false
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
		switch b.(type) {
		case undefinedType, nil:
			return false
		}
		return looseEqual(toNumber(x), b)
	case []any, *object, map[string]any:
		switch b.(type) {
		case []any, *object, map[string]any:
			return sameRef(a, b)
		case undefinedType, nil:
			return false
		}
		return looseEqual(b, a)
	}
	return false
}

// strictEqual implements ===.
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case undefinedType:
		return b == undefined
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return sameRef(a, b)
}

// sameValueZero is strictEqual except that NaN equals NaN (Set, includes).
func sameValueZero(a, b any) bool {
	if x, ok := a.(float64); ok && x != x {
		y, ok := b.(float64)
		return ok && y != y
	}
	return strictEqual(a, b)
}

// lessThan implements the abstract relational comparison a < b. The second
// result is false when the comparison is undefined (NaN involved).
func lessThan(a, b any) (bool, bool) {
	pa, pb := toPrimitive(a), toPrimitive(b)
	if sa, ok := pa.(string); ok {
		if sb, ok := pb.(string); ok {
			return compareUTF16(sa, sb) < 0, true
		}
	}
	na, nb := toNumber(pa), toNumber(pb)
	if na != na || nb != nb {
		return false, false
	}
	return na < nb, true
}

// compareUTF16 compares strings by UTF-16 code units as JavaScript does.
func compareUTF16(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ---- UTF-16 string helpers (JavaScript indexes strings by code unit) ----

func len16(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func to16(s string) []uint16 { return utf16.Encode([]rune(s)) }

func from16(u []uint16) string { return string(utf16.Decode(u)) }

// substring16 returns s[from:to] in UTF-16 code units (0 <= from <= to <= len16(s)).
func substring16(s string, from, to int) string {
	if isASCII(s) {
		return s[from:to]
	}
	return from16(to16(s)[from:to])
}

// indexOf16 is String.prototype.indexOf(search, from).
func indexOf16(s, search string, from int) int {
	if isASCII(s) {
		if from > len(s) {
			from = len(s)
		}
		i := strings.Index(s[from:], search)
		if i < 0 {
			return -1
		}
		return i + from
	}
	u, p := to16(s), to16(search)
	if from > len(u) {
		from = len(u)
	}
	for i := from; i+len(p) <= len(u); i++ {
		if slices.Equal(u[i:i+len(p)], p) {
			return i
		}
	}
	return -1
}
