package query

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/model"
)

// Canonical type ranks, in MongoDB's comparison/sort order ("Comparison/Sort
// Order" in the MongoDB manual): MinKey < null < numbers < strings < objects
// < arrays < BinData < ObjectId < bool < date < timestamp < regex < MaxKey.
// Only the ranks that JSON documents (plus time.Time) can produce are used;
// values of any other Go type sort after dates.
const (
	rankNull   = 1
	rankNumber = 2
	rankString = 3
	rankObject = 4
	rankArray  = 5
	rankBool   = 8
	rankDate   = 9
	rankOther  = 20
)

// rank returns the canonical type rank of v. A missing value is treated as
// null by callers.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return rankNull
	case float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, json.Number:
		return rankNumber
	case string:
		return rankString
	case map[string]any:
		return rankObject
	case []any:
		return rankArray
	case bool:
		return rankBool
	case time.Time:
		return rankDate
	}
	return rankOther
}

// toInt64 returns v as int64 when v is a Go integer type.
func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	}
	return 0, false
}

// Compare compares two values in MongoDB's BSON order and returns -1, 0 or
// +1. Values of different type brackets compare by bracket (null < numbers <
// strings < objects < arrays < bool < dates); numbers compare numerically
// whatever their Go type (NaN is below every other number, as in MongoDB);
// strings compare bytewise (MongoDB's "simple" collation); arrays compare
// element by element, then by length; objects compare pair by pair (type
// rank of the value, then key, then value) with keys taken in sorted order,
// because a Go map keeps no field order (MongoDB uses stored field order);
// time.Time values compare as dates. nil stands for null.
func Compare(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	switch ra {
	case rankNull:
		return 0
	case rankNumber:
		return compareNumbers(a, b)
	case rankString:
		return strings.Compare(a.(string), b.(string))
	case rankObject:
		return compareObjects(a.(map[string]any), b.(map[string]any))
	case rankArray:
		x, y := a.([]any), b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmpInt(len(x), len(y))
	case rankBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case rankDate:
		return a.(time.Time).Compare(b.(time.Time))
	}
	// Values of unknown Go types have no defined order among themselves.
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareNumbers(a, b any) int {
	// Integers compare exactly when both sides are integers, so large int64
	// values do not collapse through float64.
	if x, ok := toInt64(a); ok {
		if y, ok := toInt64(b); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	x, _ := model.Float(a)
	y, _ := model.Float(b)
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return -1
	case yn:
		return 1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func compareObjects(a, b map[string]any) int {
	ka, kb := slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))
	for i := 0; i < len(ka) && i < len(kb); i++ {
		va, vb := a[ka[i]], b[kb[i]]
		if c := cmpInt(rank(va), rank(vb)); c != 0 {
			return c
		}
		if c := strings.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
		if c := Compare(va, vb); c != 0 {
			return c
		}
	}
	return cmpInt(len(ka), len(kb))
}

// equal reports whether a and b are equal in MongoDB's sense: same type
// bracket and Compare == 0 (so 1 and 1.0 are equal, objects are equal
// regardless of key order).
func equal(a, b any) bool {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return false
	}
	switch ra {
	case rankString:
		return a.(string) == b.(string)
	case rankObject:
		x, y := a.(map[string]any), b.(map[string]any)
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case rankArray:
		x, y := a.([]any), b.([]any)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case rankOther:
		return false
	}
	return Compare(a, b) == 0
}

// Get looks up a dotted path ("a.b.0.c") in doc. Object fields are looked up
// by name and array elements by numeric index; a path that would need to
// fan out over an array's elements ("items.sku" with items an array) is not
// found, because it has no single value (selectors handle that case).
func Get(doc map[string]any, path string) (any, bool) {
	return lookup(doc, strings.Split(path, "."))
}

// arrayIndex parses a path component as a non-negative array index. Like
// MongoDB it accepts only plain decimal digits.
func arrayIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// deepCopy copies maps and slices so that a value stored into a document
// shares nothing with the caller's update.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// literal converts a query operand: objects of the form {"$date": ...}
// (MongoDB Extended JSON) become time.Time, recursively, so that dates can
// be written in JSON selectors. Values without $date are returned as they
// are, without copying.
func literal(v any) (any, error) {
	if !hasDate(v) {
		return v, nil
	}
	switch x := v.(type) {
	case map[string]any:
		if d, ok := x["$date"]; ok && len(x) == 1 {
			return parseDate(d)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := literal(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := literal(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

// hasDate reports whether v contains a {"$date": ...} object.
func hasDate(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["$date"]; ok && len(x) == 1 {
			return true
		}
		for _, e := range x {
			if hasDate(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasDate(e) {
				return true
			}
		}
	}
	return false
}

// parseDate accepts the Extended JSON forms of a date: an RFC 3339 string,
// milliseconds since the epoch as a number, or {"$numberLong": "<ms>"}.
func parseDate(v any) (time.Time, error) {
	switch d := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, d)
		if err != nil {
			return time.Time{}, errInvalidDate
		}
		return t.UTC(), nil
	case map[string]any:
		if s, ok := d["$numberLong"].(string); ok && len(d) == 1 {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return time.Time{}, errInvalidDate
			}
			return time.UnixMilli(ms).UTC(), nil
		}
	default:
		if f, ok := model.Float(v); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return time.UnixMilli(int64(f)).UTC(), nil
		}
	}
	return time.Time{}, errInvalidDate
}
