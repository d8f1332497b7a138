package query

import (
	"encoding/json"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/shared/model"
)

// Selector is a compiled MongoDB query selector. It is immutable and safe
// for concurrent use. A nil *Selector matches every document.
type Selector struct {
	root node
	raw  map[string]any // as given, for IDs and Range
}

// CompileSelector compiles a selector in MongoDB query syntax, as decoded
// from JSON. A nil or empty selector matches every document. Errors wrap
// ErrBadSelector and name the problem and the field path where it was found,
// for example `bad selector: unknown operator "$foo" at "a.b"`.
func CompileSelector(sel map[string]any) (*Selector, error) {
	root, err := compileDoc(sel, "")
	if err != nil {
		return nil, err
	}
	return &Selector{root: root, raw: sel}, nil
}

// ParseSelector decodes a selector from JSON text (for example a "query"
// URL parameter) and compiles it. The text must be a JSON object.
func ParseSelector(jsonText []byte) (*Selector, error) {
	var v any
	if err := json.Unmarshal(jsonText, &v); err != nil {
		return nil, selErr("", "invalid JSON: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, selErr("", "selector must be a JSON object, not %s", typeName(v))
	}
	return CompileSelector(m)
}

// Raw returns the selector as it was compiled, with Extended JSON dates
// ({"$date": ...}) converted to time.Time, for example to pass it on to
// MongoDB, whose query syntax it already is. The result is a copy. A nil
// selector gives an empty map.
func (s *Selector) Raw() map[string]any {
	if s == nil {
		return map[string]any{}
	}
	v, err := literal(deepCopy(s.raw))
	if err != nil {
		// CompileSelector checked every date already.
		return deepCopy(s.raw).(map[string]any)
	}
	return v.(map[string]any)
}

// ConvertDates returns v with every Extended JSON date ({"$date": RFC 3339
// string, milliseconds or {"$numberLong": ...}}) replaced by a time.Time,
// recursively, as selectors and updates do with their operands. Values
// without dates are returned as they are, without copying. The error wraps
// ErrBadUpdate.
func ConvertDates(v any) (any, error) {
	out, err := literal(v)
	if err != nil {
		return nil, updErr("", "%v", err)
	}
	return out, nil
}

// Match reports whether doc satisfies the selector.
func (s *Selector) Match(doc map[string]any) bool {
	if s == nil {
		return true
	}
	return s.root.match(doc)
}

// node is a compiled condition evaluated against a root value: the document
// for a selector, an array element inside $elemMatch.
type node interface {
	match(root any) bool
}

type andNode []node

func (n andNode) match(root any) bool {
	for _, c := range n {
		if !c.match(root) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) match(root any) bool {
	for _, c := range n {
		if c.match(root) {
			return true
		}
	}
	return false
}

type norNode []node

func (n norNode) match(root any) bool {
	for _, c := range n {
		if c.match(root) {
			return false
		}
	}
	return true
}

type notNode struct{ inner node }

func (n notNode) match(root any) bool { return !n.inner.match(root) }

// constNode is a condition known at compile time ($all: [] never matches).
type constNode bool

func (n constNode) match(any) bool { return bool(n) }

// fieldNode applies a value predicate to the candidates at a path.
type fieldNode struct {
	parts  []string
	expand bool // also test the elements of an array at the end of the path
	pred   valuePred
}

func (n *fieldNode) match(root any) bool {
	return walk(root, n.parts, n.expand, n.pred)
}

// compileDoc compiles a query document. prefix is the path of the enclosing
// $elemMatch, used only in error messages.
func compileDoc(sel map[string]any, prefix string) (node, error) {
	keys := slices.Sorted(maps.Keys(sel))
	nodes := make(andNode, 0, len(keys))
	for _, k := range keys {
		v := sel[k]
		if strings.HasPrefix(k, "$") {
			n, err := compileLogical(k, v, prefix)
			if err != nil {
				return nil, err
			}
			if n != nil {
				nodes = append(nodes, n)
			}
			continue
		}
		path := joinPath(prefix, k)
		parts, err := splitPath(k, path)
		if err != nil {
			return nil, err
		}
		n, err := compileField(path, parts, v, true)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return nodes, nil
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// splitPath splits a dotted field path and rejects empty components and
// components starting with "$" (positional operators have no meaning in a
// query).
func splitPath(k, where string) ([]string, error) {
	parts := strings.Split(k, ".")
	for _, p := range parts {
		if p == "" {
			return nil, selErr(where, "empty field name in path")
		}
		if strings.HasPrefix(p, "$") {
			return nil, selErr(where, "field name %q must not start with $", p)
		}
	}
	return parts, nil
}

// compileLogical compiles a top-level operator ($and, $or, $nor, $comment).
func compileLogical(op string, v any, prefix string) (node, error) {
	where := joinPath(prefix, op)
	switch op {
	case "$and", "$or", "$nor":
		arr, ok := v.([]any)
		if !ok {
			return nil, selErr(where, "%s needs an array", op)
		}
		if len(arr) == 0 {
			return nil, selErr(where, "%s needs a non-empty array", op)
		}
		nodes := make([]node, 0, len(arr))
		for _, e := range arr {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, selErr(where, "%s entries must be objects, not %s", op, typeName(e))
			}
			n, err := compileDoc(m, prefix)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		}
		switch op {
		case "$and":
			return andNode(nodes), nil
		case "$or":
			return orNode(nodes), nil
		}
		return norNode(nodes), nil
	case "$comment":
		return nil, nil
	case "$where", "$expr", "$text", "$jsonSchema", "$sampleRate", "$alwaysTrue", "$alwaysFalse":
		return nil, selErr(where, "operator %q is not supported", op)
	}
	return nil, selErr(prefix, "unknown top-level operator %q", op)
}

// isOperatorObject reports whether v is an operator expression such as
// {"$gt": 1} rather than a literal subdocument. A lone {"$date": ...} is an
// Extended JSON date literal, not an operator.
func isOperatorObject(m map[string]any) bool {
	if _, ok := m["$date"]; ok && len(m) == 1 {
		return false
	}
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

// compileField compiles the condition v on the field at parts. expand is
// false inside the value form of $elemMatch, where MongoDB tests each array
// element as a whole.
func compileField(path string, parts []string, v any, expand bool) (node, error) {
	if m, ok := v.(map[string]any); ok && isOperatorObject(m) {
		return compileOps(path, parts, m, expand)
	}
	lit, err := literal(v)
	if err != nil {
		return nil, selErr(path, "%v", err)
	}
	return &fieldNode{parts: parts, expand: expand, pred: newEq(lit)}, nil
}

// compileOps compiles an operator object such as {"$gt": 1, "$lt": 5}. Each
// operator is a separate condition on the path, so for arrays different
// elements may satisfy different operators, as in MongoDB.
func compileOps(path string, parts []string, ops map[string]any, expand bool) (node, error) {
	keys := slices.Sorted(maps.Keys(ops))
	nodes := make(andNode, 0, len(keys))
	field := func(expandLeaf bool, p valuePred) node {
		return &fieldNode{parts: parts, expand: expand && expandLeaf, pred: p}
	}
	for _, op := range keys {
		arg := ops[op]
		var n node
		switch op {
		case "$eq", "$ne":
			lit, err := operand(path, op, arg)
			if err != nil {
				return nil, err
			}
			n = field(true, newEq(lit))
			if op == "$ne" {
				n = notNode{n}
			}
		case "$gt", "$gte", "$lt", "$lte":
			lit, err := operand(path, op, arg)
			if err != nil {
				return nil, err
			}
			n = field(true, newCmp(op, lit))
		case "$in", "$nin":
			p, err := newIn(path, op, arg)
			if err != nil {
				return nil, err
			}
			n = field(true, p)
			if op == "$nin" {
				n = notNode{n}
			}
		case "$exists":
			want, ok := truthy(arg)
			if !ok {
				return nil, selErr(path, "$exists needs a boolean, not %s", typeName(arg))
			}
			n = field(false, existsPred{})
			if !want {
				n = notNode{n}
			}
		case "$regex":
			p, err := newRegex(path, arg, ops["$options"])
			if err != nil {
				return nil, err
			}
			n = field(true, p)
		case "$options":
			if _, ok := ops["$regex"]; !ok {
				return nil, selErr(path, "$options needs a $regex")
			}
			continue
		case "$not":
			m, ok := arg.(map[string]any)
			if !ok {
				return nil, selErr(path, "$not needs an operator object, not %s", typeName(arg))
			}
			if len(m) == 0 || !isOperatorObject(m) {
				return nil, selErr(path, "$not needs an operator object such as {\"$gt\": 1}")
			}
			inner, err := compileOps(path, parts, m, expand)
			if err != nil {
				return nil, err
			}
			n = notNode{inner}
		case "$all":
			var err error
			if n, err = compileAll(path, parts, arg, expand); err != nil {
				return nil, err
			}
		case "$elemMatch":
			p, err := newElemMatch(path, arg)
			if err != nil {
				return nil, err
			}
			n = field(false, p)
		case "$size":
			p, err := newSize(path, arg)
			if err != nil {
				return nil, err
			}
			n = field(false, p)
		case "$type":
			p, err := newType(path, arg)
			if err != nil {
				return nil, err
			}
			n = field(true, p)
		case "$mod":
			p, err := newMod(path, arg)
			if err != nil {
				return nil, err
			}
			n = field(true, p)
		case "$where", "$expr", "$text", "$near", "$nearSphere", "$geoWithin",
			"$geoIntersects", "$within", "$bitsAllSet", "$bitsAnySet",
			"$bitsAllClear", "$bitsAnyClear", "$jsonSchema":
			return nil, selErr(path, "operator %q is not supported", op)
		default:
			return nil, selErr(path, "unknown operator %q", op)
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return nodes, nil
}

// operand converts an operator's argument (Extended JSON dates become
// time.Time), naming the operator and path in errors.
func operand(path, op string, arg any) (any, error) {
	lit, err := literal(arg)
	if err != nil {
		return nil, selErr(path, "%s: %v", op, err)
	}
	return lit, nil
}

// truthy interprets a $exists argument: booleans, and numbers (non-zero is
// true) as MongoDB accepts them.
func truthy(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case nil:
		return false, true
	}
	if f, ok := model.Float(v); ok {
		return f != 0, true
	}
	return false, false
}

func compileAll(path string, parts []string, arg any, expand bool) (node, error) {
	arr, ok := arg.([]any)
	if !ok {
		return nil, selErr(path, "$all needs an array")
	}
	if len(arr) == 0 {
		// An empty $all matches no documents (MongoDB manual, $all).
		return constNode(false), nil
	}
	nodes := make(andNode, 0, len(arr))
	elemMatches := 0
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok && isOperatorObject(m) {
			em, isEM := m["$elemMatch"]
			if !isEM || len(m) != 1 {
				return nil, selErr(path, "$all entries may only be values or {\"$elemMatch\": ...}")
			}
			p, err := newElemMatch(path, em)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, &fieldNode{parts: parts, pred: p})
			elemMatches++
			continue
		}
		lit, err := operand(path, "$all", e)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, &fieldNode{parts: parts, expand: expand, pred: newEq(lit)})
	}
	if elemMatches != 0 && elemMatches != len(arr) {
		return nil, selErr(path, "$all cannot mix values and $elemMatch")
	}
	return nodes, nil
}

// typeName names the JSON type of v for error messages.
func typeName(v any) string {
	switch rank(v) {
	case rankNull:
		return "null"
	case rankNumber:
		return "a number"
	case rankString:
		return "a string"
	case rankObject:
		return "an object"
	case rankArray:
		return "an array"
	case rankBool:
		return "a boolean"
	case rankDate:
		return "a date"
	}
	return "an unsupported value"
}

// ---- value predicates ----

// eqPred is equality; equality to null also matches a missing field.
type eqPred struct {
	val  any
	null bool
	str  string
	kind int
}

func newEq(v any) *eqPred {
	p := &eqPred{val: v, kind: rank(v)}
	p.null = p.kind == rankNull
	if s, ok := v.(string); ok {
		p.str = s
	}
	return p
}

func (p *eqPred) test(v any, exists bool) bool {
	if !exists {
		return p.null
	}
	if p.kind == rankString {
		s, ok := v.(string)
		return ok && s == p.str
	}
	if p.null {
		return v == nil
	}
	return equal(v, p.val)
}

// cmpPred is $gt/$gte/$lt/$lte with MongoDB's type bracketing: only values
// of the operand's type bracket can match.
type cmpPred struct {
	val     any
	num     float64 // val as float64 when it is a finite float64, for a fast path
	isFloat bool
	kind    int
	lt, eq  bool // accept Compare < 0 (lt) or > 0 (!lt); accept == 0 (eq)
	never   bool // $gt/$lt null: nothing is in the null bracket but null
}

func newCmp(op string, v any) valuePred {
	p := &cmpPred{val: v, kind: rank(v), lt: op == "$lt" || op == "$lte", eq: op == "$gte" || op == "$lte"}
	if f, ok := v.(float64); ok && !math.IsNaN(f) {
		p.num, p.isFloat = f, true
	}
	if p.kind == rankNull {
		// Null is alone in its bracket, so {$gte: null} is {$eq: null} and
		// {$gt: null} matches nothing.
		if p.eq {
			return newEq(nil)
		}
		p.never = true
	}
	return p
}

func (p *cmpPred) test(v any, exists bool) bool {
	if !exists || p.never {
		return false
	}
	var c int
	if f, ok := v.(float64); ok && p.isFloat && !math.IsNaN(f) {
		// Common case for JSON documents: both plain float64.
		switch {
		case f < p.num:
			c = -1
		case f > p.num:
			c = 1
		}
	} else {
		if rank(v) != p.kind {
			return false
		}
		c = Compare(v, p.val)
	}
	switch {
	case c == 0:
		return p.eq
	case c < 0:
		return p.lt
	}
	return !p.lt
}

// inPred is $in: equality to any listed value.
type inPred struct {
	vals []any
	strs map[string]struct{}
	null bool
}

func newIn(path, op string, arg any) (*inPred, error) {
	arr, ok := arg.([]any)
	if !ok {
		return nil, selErr(path, "%s needs an array", op)
	}
	p := &inPred{}
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok && isOperatorObject(m) {
			return nil, selErr(path, "%s cannot contain operator objects", op)
		}
		lit, err := operand(path, op, e)
		if err != nil {
			return nil, err
		}
		switch s := lit.(type) {
		case nil:
			p.null = true
		case string:
			if p.strs == nil {
				p.strs = make(map[string]struct{})
			}
			p.strs[s] = struct{}{}
		default:
			p.vals = append(p.vals, lit)
		}
	}
	return p, nil
}

func (p *inPred) test(v any, exists bool) bool {
	if !exists || v == nil {
		return p.null
	}
	if s, ok := v.(string); ok {
		_, found := p.strs[s]
		return found
	}
	for _, w := range p.vals {
		if equal(v, w) {
			return true
		}
	}
	return false
}

// existsPred matches any candidate that is present.
type existsPred struct{}

func (existsPred) test(_ any, exists bool) bool { return exists }

// regexPred is $regex; it matches strings only.
type regexPred struct{ re *regexp.Regexp }

func (p regexPred) test(v any, exists bool) bool {
	s, ok := v.(string)
	return exists && ok && p.re.MatchString(s)
}

// sizePred is $size; it matches arrays of exactly n elements.
type sizePred struct{ n int }

func newSize(path string, arg any) (valuePred, error) {
	f, ok := model.Float(arg)
	if !ok {
		return nil, selErr(path, "$size needs a number, not %s", typeName(arg))
	}
	if f < 0 {
		return nil, selErr(path, "$size may not be negative")
	}
	if f != math.Trunc(f) || f > math.MaxInt32 {
		return nil, selErr(path, "$size needs a whole number")
	}
	return sizePred{n: int(f)}, nil
}

func (p sizePred) test(v any, exists bool) bool {
	arr, ok := v.([]any)
	return exists && ok && len(arr) == p.n
}

// modPred is $mod: [divisor, remainder], on values truncated to integers.
type modPred struct{ div, rem int64 }

func newMod(path string, arg any) (valuePred, error) {
	arr, ok := arg.([]any)
	if !ok || len(arr) != 2 {
		return nil, selErr(path, "$mod needs an array [divisor, remainder]")
	}
	d, ok1 := model.Float(arr[0])
	r, ok2 := model.Float(arr[1])
	if !ok1 || !ok2 || !finite(d) || !finite(r) {
		return nil, selErr(path, "$mod divisor and remainder must be finite numbers")
	}
	if math.Trunc(d) == 0 {
		return nil, selErr(path, "$mod divisor cannot be 0")
	}
	return modPred{div: int64(d), rem: int64(r)}, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (p modPred) test(v any, exists bool) bool {
	if !exists {
		return false
	}
	if i, ok := toInt64(v); ok {
		return i%p.div == p.rem
	}
	f, ok := model.Float(v)
	if !ok || !finite(f) || math.Abs(f) >= 1<<63 {
		return false
	}
	return int64(f)%p.div == p.rem
}

// elemMatchPred is $elemMatch: some element of an array satisfies every
// condition. In the object form the conditions are a query on each element
// that is an object; in the value form ({"$gt": 1, ...}) they apply to each
// element as a whole.
type elemMatchPred struct {
	inner      node
	objectForm bool
}

func newElemMatch(path string, arg any) (valuePred, error) {
	m, ok := arg.(map[string]any)
	if !ok {
		return nil, selErr(path, "$elemMatch needs an object")
	}
	if isElemMatchValueForm(m) {
		inner, err := compileOps(path, nil, m, false)
		if err != nil {
			return nil, err
		}
		return &elemMatchPred{inner: inner}, nil
	}
	inner, err := compileDoc(m, path)
	if err != nil {
		return nil, err
	}
	return &elemMatchPred{inner: inner, objectForm: true}, nil
}

// isElemMatchValueForm mirrors MongoDB's rule: an $elemMatch argument whose
// fields are operators other than the logical ones is a value condition.
func isElemMatchValueForm(m map[string]any) bool {
	if !isOperatorObject(m) {
		return false
	}
	for k := range m {
		switch k {
		case "$and", "$or", "$nor", "$where", "$expr", "$comment", "$text":
			return false
		}
	}
	return true
}

func (p *elemMatchPred) test(v any, exists bool) bool {
	arr, ok := v.([]any)
	if !exists || !ok {
		return false
	}
	for _, e := range arr {
		if p.objectForm {
			if _, isObj := e.(map[string]any); !isObj {
				continue
			}
		}
		if p.inner.match(e) {
			return true
		}
	}
	return false
}

// typePred is $type.
type typePred struct{ codes []int }

// typeAliases maps MongoDB's $type string aliases to BSON type numbers;
// "number" is -2 here (it is not a BSON type).
var typeAliases = map[string]int{
	"double": 1, "string": 2, "object": 3, "array": 4, "binData": 5,
	"undefined": 6, "objectId": 7, "bool": 8, "date": 9, "null": 10,
	"regex": 11, "dbPointer": 12, "javascript": 13, "symbol": 14,
	"javascriptWithScope": 15, "int": 16, "timestamp": 17, "long": 18,
	"decimal": 19, "minKey": -1, "maxKey": 127, "number": -2,
}

func newType(path string, arg any) (valuePred, error) {
	var list []any
	if arr, ok := arg.([]any); ok {
		if len(arr) == 0 {
			return nil, selErr(path, "$type needs at least one type")
		}
		list = arr
	} else {
		list = []any{arg}
	}
	p := &typePred{}
	for _, t := range list {
		switch x := t.(type) {
		case string:
			code, ok := typeAliases[x]
			if !ok {
				return nil, selErr(path, "$type: unknown type name %q", x)
			}
			p.codes = append(p.codes, code)
		default:
			f, ok := model.Float(t)
			if !ok || f != math.Trunc(f) {
				return nil, selErr(path, "$type needs a type name or number, not %s", typeName(t))
			}
			code := int(f)
			if !knownTypeCode(code) {
				return nil, selErr(path, "$type: unknown type number %d", code)
			}
			p.codes = append(p.codes, code)
		}
	}
	return p, nil
}

func knownTypeCode(code int) bool {
	for _, c := range typeAliases {
		if c == code && c != -2 {
			return true
		}
	}
	return false
}

func (p *typePred) test(v any, exists bool) bool {
	if !exists {
		return false
	}
	code := bsonType(v)
	for _, c := range p.codes {
		if c == code || (c == -2 && rank(v) == rankNumber) {
			return true
		}
	}
	return false
}

// bsonType returns the BSON type number a Go value is stored as by the
// MongoDB Go driver: float64 is a double, int32-sized integers are int and
// wider ones long, time.Time is a date.
func bsonType(v any) int {
	switch n := v.(type) {
	case float64, float32, json.Number:
		return 1
	case string:
		return 2
	case map[string]any:
		return 3
	case []any:
		return 4
	case bool:
		return 8
	case nil:
		return 10
	case int8, int16, int32, uint8, uint16:
		return 16
	case int:
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return 16
		}
		return 18
	case int64, uint, uint32, uint64:
		return 18
	}
	if rank(v) == rankDate {
		return 9
	}
	return 0
}
