package query

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// maxArrayPad bounds how far $set may extend an array with nulls
// ({"$set": {"a.100000000": 1}}), so one request cannot exhaust memory.
const maxArrayPad = 100000

// ApplyUpdate applies a MongoDB update document to doc in place and returns
// the dotted paths it changed (sorted; a path whose value ends up the same,
// such as $set to the current value, is not listed).
//
// update is either a plain fields object, applied as a $set of those fields
// (dotted keys allowed: {"a.b": 1}), or an object of update operators:
// $set, $unset, $inc, $mul, $min, $max, $push (with $each, $position,
// $slice, $sort), $addToSet (with $each), $pull, $pullAll, $pop, $rename,
// $currentDate and $setOnInsert (ignored: there is no insert here).
// Operators and plain fields cannot be mixed, _id cannot be changed, two
// operators cannot touch the same path or a path and its prefix, and
// positional paths ("a.$", "a.$[]") are not supported.
//
// The update is atomic: on error, doc is unchanged. Errors wrap
// ErrBadUpdate and name the field, for example
// `bad update: $inc needs a number at "count"`. Values are deep-copied
// into doc, and Extended JSON dates ({"$date": ...}) become time.Time.
func ApplyUpdate(doc map[string]any, update map[string]any) (changed []string, err error) {
	return ApplyUpdateAt(doc, update, time.Now())
}

// ApplyUpdateAt is ApplyUpdate with the time used by $currentDate given
// explicitly (stores pass their clock; tests pass a fixed time).
func ApplyUpdateAt(doc map[string]any, update map[string]any, now time.Time) (changed []string, err error) {
	if doc == nil {
		return nil, updErr("", "nil document")
	}
	actions, err := planUpdate(doc, update)
	if err != nil {
		return nil, err
	}
	work := deepCopy(doc).(map[string]any)
	var paths []string
	for _, a := range actions {
		did, err := a.apply(work, now)
		if err != nil {
			return nil, err
		}
		if did {
			paths = append(paths, a.field)
			if a.op == "$rename" {
				paths = append(paths, a.arg.(string))
			}
		}
	}
	clear(doc)
	maps.Copy(doc, work)
	slices.Sort(paths)
	return slices.Compact(paths), nil
}

// action is one field of one update operator.
type action struct {
	op    string
	field string
	parts []string
	arg   any
}

var updateOps = map[string]bool{
	"$set": true, "$unset": true, "$inc": true, "$mul": true, "$min": true,
	"$max": true, "$push": true, "$addToSet": true, "$pull": true,
	"$pullAll": true, "$pop": true, "$rename": true, "$currentDate": true,
	"$setOnInsert": true,
}

// planUpdate validates the update and returns its actions in a fixed order
// (operator, then field), after checking for conflicting paths.
func planUpdate(doc, update map[string]any) ([]action, error) {
	if len(update) == 0 {
		return nil, updErr("", "empty update")
	}
	ops := update
	var opKey, plainKey string
	for _, k := range slices.Sorted(maps.Keys(update)) {
		if strings.HasPrefix(k, "$") {
			if opKey == "" {
				opKey = k
			}
		} else if plainKey == "" {
			plainKey = k
		}
	}
	if opKey != "" && plainKey != "" {
		return nil, updErr(plainKey, "cannot mix update operators (%s) and plain fields", opKey)
	}
	if opKey == "" {
		ops = map[string]any{"$set": update}
	}
	var actions []action
	var targets [][]string
	var targetNames []string
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		if !updateOps[op] {
			return nil, updErr("", "unknown update operator %q", op)
		}
		fields, ok := ops[op].(map[string]any)
		if !ok {
			return nil, updErr("", "%s needs an object of fields, not %s", op, typeName(ops[op]))
		}
		if op == "$setOnInsert" {
			continue
		}
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			parts, err := updatePath(f)
			if err != nil {
				return nil, err
			}
			arg, err := literal(fields[f])
			if err != nil {
				return nil, updErr(f, "%s: %v", op, err)
			}
			a := action{op: op, field: f, parts: parts, arg: arg}
			if err := a.validate(); err != nil {
				return nil, err
			}
			if err := checkID(doc, a); err != nil {
				return nil, err
			}
			targets = append(targets, parts)
			targetNames = append(targetNames, f)
			if op == "$rename" {
				dst := arg.(string)
				dparts, _ := updatePath(dst)
				targets = append(targets, dparts)
				targetNames = append(targetNames, dst)
			}
			actions = append(actions, a)
		}
	}
	for i := range targets {
		for j := i + 1; j < len(targets); j++ {
			if isPrefix(targets[i], targets[j]) || isPrefix(targets[j], targets[i]) {
				n := min(len(targets[i]), len(targets[j]))
				return nil, updErr(targetNames[j], "updating the path %q would create a conflict at %q",
					targetNames[j], strings.Join(targets[i][:n], "."))
			}
		}
	}
	return actions, nil
}

// updatePath splits and checks an update field path.
func updatePath(f string) ([]string, error) {
	parts := strings.Split(f, ".")
	for _, p := range parts {
		if p == "" {
			return nil, updErr(f, "empty field name in path")
		}
		if strings.HasPrefix(p, "$") {
			return nil, updErr(f, "positional and $-prefixed path components are not supported")
		}
	}
	return parts, nil
}

func isPrefix(p, q []string) bool {
	return len(p) <= len(q) && slices.Equal(p, q[:len(p)])
}

// checkID rejects any change to _id; setting _id to its current value is
// allowed (and changes nothing), as in MongoDB.
func checkID(doc map[string]any, a action) error {
	touches := a.parts[0] == "_id"
	if a.op == "$rename" && strings.Split(a.arg.(string), ".")[0] == "_id" {
		touches = true
	}
	if !touches {
		return nil
	}
	if a.op == "$set" && len(a.parts) == 1 {
		if cur, ok := doc["_id"]; ok && identical(cur, a.arg) {
			return nil
		}
	}
	return updErr("_id", "%s would change the immutable field _id", a.op)
}

// identical is equality that also requires the same stored type, so that
// $set of 1.0 over an int 1 counts as a change (MongoDB would store a
// double instead of an int).
func identical(a, b any) bool {
	return equal(a, b) && bsonType(a) == bsonType(b)
}

// validate checks the operand of an action before anything is applied.
func (a action) validate() error {
	switch a.op {
	case "$inc", "$mul":
		if _, ok := model.Float(a.arg); !ok {
			return updErr(a.field, "%s needs a number, not %s", a.op, typeName(a.arg))
		}
	case "$push":
		if m, ok := a.arg.(map[string]any); ok && hasDollarKey(m) {
			return validatePushMods(a.field, m)
		}
	case "$addToSet":
		if m, ok := a.arg.(map[string]any); ok && hasDollarKey(m) {
			each, ok := m["$each"]
			if !ok || len(m) != 1 {
				return updErr(a.field, "$addToSet accepts only the $each modifier")
			}
			if _, ok := each.([]any); !ok {
				return updErr(a.field, "$each needs an array")
			}
		}
	case "$pull":
		if _, err := pullMatcher(a.field, a.arg); err != nil {
			return err
		}
	case "$pullAll":
		if _, ok := a.arg.([]any); !ok {
			return updErr(a.field, "$pullAll needs an array, not %s", typeName(a.arg))
		}
	case "$pop":
		if f, ok := model.Float(a.arg); !ok || (f != 1 && f != -1) {
			return updErr(a.field, "$pop needs 1 or -1")
		}
	case "$rename":
		dst, ok := a.arg.(string)
		if !ok {
			return updErr(a.field, "$rename needs a string destination, not %s", typeName(a.arg))
		}
		dparts, err := updatePath(dst)
		if err != nil {
			return err
		}
		if isPrefix(a.parts, dparts) || isPrefix(dparts, a.parts) {
			return updErr(a.field, "$rename source and destination %q cannot be the same or contain each other", dst)
		}
	case "$currentDate":
		switch x := a.arg.(type) {
		case bool:
		case map[string]any:
			t, ok := x["$type"]
			if len(x) != 1 || !ok {
				return updErr(a.field, `$currentDate needs true or {"$type": "date"}`)
			}
			if t != "date" {
				return updErr(a.field, "$currentDate: $type %v is not supported (only \"date\")", t)
			}
		default:
			return updErr(a.field, `$currentDate needs true or {"$type": "date"}`)
		}
	}
	return nil
}

func hasDollarKey(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

func validatePushMods(field string, m map[string]any) error {
	each, ok := m["$each"]
	if !ok {
		return updErr(field, "$push modifiers need $each")
	}
	if _, ok := each.([]any); !ok {
		return updErr(field, "$each needs an array")
	}
	for k, v := range m {
		switch k {
		case "$each":
		case "$position", "$slice":
			f, ok := model.Float(v)
			if !ok || f != math.Trunc(f) {
				return updErr(field, "%s needs an integer", k)
			}
		case "$sort":
			if _, err := pushSorter(field, v); err != nil {
				return err
			}
		default:
			return updErr(field, "unknown $push modifier %q", k)
		}
	}
	return nil
}

// apply performs the action on doc and reports whether it changed it.
func (a action) apply(doc map[string]any, now time.Time) (bool, error) {
	cur, found := lookup(doc, a.parts)
	switch a.op {
	case "$set":
		return a.set(doc, cur, found, deepCopy(a.arg))
	case "$currentDate":
		return a.set(doc, cur, found, now.UTC())
	case "$unset":
		return unset(doc, a.parts), nil
	case "$inc", "$mul":
		if !found {
			if a.op == "$mul" {
				return a.set(doc, cur, found, zeroLike(a.arg))
			}
			return a.set(doc, cur, found, a.arg)
		}
		if rank(cur) != rankNumber {
			return false, updErr(a.field, "cannot apply %s to a value of type %s", a.op, strings.TrimPrefix(strings.TrimPrefix(typeName(cur), "an "), "a "))
		}
		return a.set(doc, cur, found, arith(a.op, cur, a.arg))
	case "$min", "$max":
		if found {
			c := Compare(a.arg, cur)
			if (a.op == "$min" && c >= 0) || (a.op == "$max" && c <= 0) {
				return false, nil
			}
		}
		return a.set(doc, cur, found, deepCopy(a.arg))
	case "$push", "$addToSet", "$pull", "$pullAll", "$pop":
		return a.arrayOp(doc, cur, found)
	case "$rename":
		return a.rename(doc)
	}
	return false, updErr(a.field, "unknown update operator %q", a.op)
}

func (a action) set(doc map[string]any, cur any, found bool, v any) (bool, error) {
	if found && identical(cur, v) {
		return false, nil
	}
	if err := setPath(doc, a.parts, v, a.field); err != nil {
		return false, err
	}
	return true, nil
}

// lookup finds the value at an exact path: object fields by name, array
// elements by numeric index.
func lookup(doc map[string]any, parts []string) (any, bool) {
	var cur any = doc
	for _, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, ok := arrayIndex(p)
			if !ok || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// setPath stores v at parts, creating missing objects on the way and
// padding arrays with nulls up to a numeric index, as MongoDB does. It
// fails where the path runs into a scalar or needs a field of an array.
func setPath(doc map[string]any, parts []string, v any, field string) error {
	_, err := setIn(doc, parts, v, field, 0)
	return err
}

func setIn(container any, parts []string, v any, field string, depth int) (any, error) {
	switch c := container.(type) {
	case map[string]any:
		if len(parts) == 1 {
			c[parts[0]] = v
			return c, nil
		}
		child, ok := c[parts[0]]
		if !ok {
			child = map[string]any{}
		}
		nc, err := setIn(child, parts[1:], v, field, depth+1)
		if err != nil {
			return nil, err
		}
		c[parts[0]] = nc
		return c, nil
	case []any:
		i, ok := arrayIndex(parts[0])
		if !ok {
			return nil, updErr(field, "cannot create field %q in array %q", parts[0], prefixOf(field, depth))
		}
		grown := i >= len(c)
		if grown {
			if i-len(c) > maxArrayPad {
				return nil, updErr(field, "array index %d is too far past the end of %q", i, prefixOf(field, depth))
			}
			c = append(c, make([]any, i+1-len(c))...)
		}
		if len(parts) == 1 {
			c[i] = v
			return c, nil
		}
		child := c[i]
		if grown {
			child = map[string]any{}
		}
		nc, err := setIn(child, parts[1:], v, field, depth+1)
		if err != nil {
			return nil, err
		}
		c[i] = nc
		return c, nil
	}
	return nil, updErr(field, "cannot create field %q in %q, which is %s", parts[0], prefixOf(field, depth), typeName(container))
}

// prefixOf returns the first depth components of a dotted field.
func prefixOf(field string, depth int) string {
	parts := strings.Split(field, ".")
	return strings.Join(parts[:min(depth, len(parts))], ".")
}

// unset removes the field at parts; an array element is set to null
// instead, keeping the other elements' positions (MongoDB's $unset rule).
func unset(doc map[string]any, parts []string) bool {
	var cur any = doc
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return false
			}
			if last {
				delete(c, p)
				return true
			}
			cur = v
		case []any:
			idx, ok := arrayIndex(p)
			if !ok || idx >= len(c) {
				return false
			}
			if last {
				changed := c[idx] != nil
				c[idx] = nil
				return changed
			}
			cur = c[idx]
		default:
			return false
		}
	}
	return false
}

// arith computes $inc or $mul. Integers stay integers (int64); anything
// involving a float gives a float64.
func arith(op string, cur, arg any) any {
	x, xi := toInt64(cur)
	y, yi := toInt64(arg)
	if xi && yi {
		if op == "$inc" {
			return x + y
		}
		return x * y
	}
	f, _ := model.Float(cur)
	g, _ := model.Float(arg)
	if op == "$inc" {
		return f + g
	}
	return f * g
}

// zeroLike is the value $mul stores in a missing field: zero of the
// multiplier's numeric type.
func zeroLike(arg any) any {
	if _, ok := toInt64(arg); ok {
		return int64(0)
	}
	return float64(0)
}

func (a action) arrayOp(doc map[string]any, cur any, found bool) (bool, error) {
	var arr []any
	if found {
		var ok bool
		if arr, ok = cur.([]any); !ok {
			return false, updErr(a.field, "%s needs an array field, but the field is %s", a.op, typeName(cur))
		}
	}
	switch a.op {
	case "$push":
		return a.push(doc, arr)
	case "$addToSet":
		items := []any{a.arg}
		if m, ok := a.arg.(map[string]any); ok && hasDollarKey(m) {
			items = m["$each"].([]any)
		}
		out := slices.Clone(arr)
		for _, it := range items {
			if !slices.ContainsFunc(out, func(e any) bool { return equal(e, it) }) {
				out = append(out, deepCopy(it))
			}
		}
		if found && len(out) == len(arr) {
			return false, nil
		}
		if out == nil {
			out = []any{}
		}
		return true, setPath(doc, a.parts, out, a.field)
	case "$pull", "$pullAll":
		if !found {
			return false, nil
		}
		var remove func(any) bool
		if a.op == "$pull" {
			remove, _ = pullMatcher(a.field, a.arg)
		} else {
			vals := a.arg.([]any)
			remove = func(e any) bool {
				return slices.ContainsFunc(vals, func(v any) bool { return equal(e, v) })
			}
		}
		out := slices.DeleteFunc(slices.Clone(arr), remove)
		if len(out) == len(arr) {
			return false, nil
		}
		return true, setPath(doc, a.parts, out, a.field)
	case "$pop":
		if len(arr) == 0 {
			return false, nil
		}
		f, _ := model.Float(a.arg)
		out := slices.Clone(arr[1:])
		if f == 1 {
			out = slices.Clone(arr[:len(arr)-1])
		}
		return true, setPath(doc, a.parts, out, a.field)
	}
	return false, nil
}

func (a action) push(doc map[string]any, arr []any) (bool, error) {
	items := []any{a.arg}
	var mods map[string]any
	if m, ok := a.arg.(map[string]any); ok && hasDollarKey(m) {
		mods = m
		items = m["$each"].([]any)
	}
	items = deepCopy(items).([]any)
	out := slices.Clone(arr)
	pos := len(out)
	if p, ok := mods["$position"]; ok {
		f, _ := model.Float(p)
		pos = int(f)
		if pos < 0 {
			pos = max(len(out)+pos, 0)
		}
		pos = min(pos, len(out))
	}
	out = slices.Insert(out, pos, items...)
	if s, ok := mods["$sort"]; ok {
		cmp, _ := pushSorter(a.field, s)
		slices.SortStableFunc(out, cmp)
	}
	if s, ok := mods["$slice"]; ok {
		f, _ := model.Float(s)
		n := int(f)
		switch {
		case n >= 0 && n < len(out):
			out = out[:n]
		case n < 0 && -n < len(out):
			out = out[len(out)+n:]
		}
	}
	if out == nil {
		out = []any{}
	}
	if arr != nil && slices.EqualFunc(arr, out, identical) {
		return false, nil
	}
	return true, setPath(doc, a.parts, out, a.field)
}

// pushSorter returns the element order for $push's $sort: 1 or -1 sorts
// the elements themselves, {field: ±1, ...} sorts object elements by those
// fields (in lexical field order, as the map has no order).
func pushSorter(field string, v any) (func(a, b any) int, error) {
	if f, ok := model.Float(v); ok && math.Abs(f) == 1 {
		return func(a, b any) int {
			c := Compare(a, b)
			if f < 0 {
				return -c
			}
			return c
		}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, updErr(field, "$sort needs 1, -1 or an object of fields")
	}
	spec, err := ParseSort(m)
	if err != nil {
		return nil, updErr(field, "$sort: %v", err)
	}
	return func(a, b any) int {
		am, _ := a.(map[string]any)
		bm, _ := b.(map[string]any)
		switch {
		case spec.Less(am, bm):
			return -1
		case spec.Less(bm, am):
			return 1
		}
		return 0
	}, nil
}

// pullMatcher builds $pull's element test. Following the MongoDB manual
// ($pull, Behavior): "If you specify a <condition> and the array elements
// are embedded documents, $pull operator applies the <condition> as if each
// array element were a document in a collection." So an operator object
// ({"$gte": 6}) tests each element as a value, a plain object ({"score": 8})
// is a query on each object element (which may have more fields), and any
// other value removes the elements equal to it (arrays in order).
func pullMatcher(field string, arg any) (func(any) bool, error) {
	m, ok := arg.(map[string]any)
	if !ok {
		return func(e any) bool { return equal(e, arg) }, nil
	}
	if isOperatorObject(m) && isElemMatchValueForm(m) {
		n, err := compileOps("", nil, m, true)
		if err != nil {
			return nil, updErr(field, "$pull: %v", err)
		}
		return n.match, nil
	}
	n, err := compileDoc(m, "")
	if err != nil {
		return nil, updErr(field, "$pull: %v", err)
	}
	return func(e any) bool {
		_, isObj := e.(map[string]any)
		return isObj && n.match(e)
	}, nil
}

func (a action) rename(doc map[string]any) (bool, error) {
	dst := a.arg.(string)
	dparts := strings.Split(dst, ".")
	if err := noArrayOnPath(doc, a.parts, a.field); err != nil {
		return false, err
	}
	if err := noArrayOnPath(doc, dparts, dst); err != nil {
		return false, err
	}
	v, found := lookup(doc, a.parts)
	if !found {
		return false, nil
	}
	unset(doc, a.parts)
	if err := setPath(doc, dparts, v, dst); err != nil {
		return false, err
	}
	return true, nil
}

// noArrayOnPath rejects $rename through arrays, which MongoDB does not
// support ($rename manual: it "does not work on embedded documents in
// arrays").
func noArrayOnPath(doc map[string]any, parts []string, field string) error {
	var cur any = doc
	for i, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil
			}
			cur = v
		case []any:
			return updErr(field, "$rename cannot go through the array %q", strings.Join(parts[:i], "."))
		default:
			return nil
		}
	}
	return nil
}
