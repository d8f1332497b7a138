package expression

import (
	"math"
	"strings"
)

// transforms is the FIWARE IoT agent transform set (jexlTransformsMap.js).
// Each entry implements the JavaScript function shown in doc.go on the
// engine's JS-like values, including the exceptions it would throw.
var transforms = map[string]fn{
	"jsonparse": func(_ *runtime, a []any) (any, error) {
		return parseJSON(toString(arg(a, 0)))
	},
	"jsonstringify": func(rt *runtime, a []any) (any, error) {
		s, ok, err := stringifyJSON(arg(a, 0), rt.opts.MaxStringLen)
		if err != nil || !ok {
			return undefined, err
		}
		return s, nil
	},
	"indexOf": func(_ *runtime, a []any) (any, error) {
		return float64(indexOf16(toString(arg(a, 0)), toString(arg(a, 1)), 0)), nil
	},
	"length": func(_ *runtime, a []any) (any, error) {
		return float64(len16(toString(arg(a, 0)))), nil
	},
	"trim": func(_ *runtime, a []any) (any, error) {
		return trimJS(toString(arg(a, 0))), nil
	},
	"substr": func(_ *runtime, a []any) (any, error) {
		s := toString(arg(a, 0))
		size := len16(s)
		start := toIntegerOrInfinity(arg(a, 1))
		switch {
		case math.IsInf(start, -1):
			start = 0
		case start < 0:
			start = math.Max(float64(size)+start, 0)
		default:
			start = math.Min(start, float64(size))
		}
		length := float64(size) - start
		if l := arg(a, 2); l != undefined {
			length = math.Min(math.Max(toIntegerOrInfinity(l), 0), float64(size)-start)
		}
		if length <= 0 {
			return "", nil
		}
		return substring16(s, int(start), int(start+length)), nil
	},
	"addreduce": func(rt *runtime, a []any) (any, error) {
		arr, err := requireArray(arg(a, 0), "arr", "reduce")
		if err != nil {
			return nil, err
		}
		if len(arr) == 0 {
			return nil, jsErrorf(ErrTypeError, "Reduce of empty array with no initial value")
		}
		acc := norm(arr[0])
		for _, e := range arr[1:] {
			if acc, err = jsAdd(rt, acc, norm(e)); err != nil {
				return nil, err
			}
		}
		return acc, nil
	},
	"lengtharray": func(_ *runtime, a []any) (any, error) {
		v := arg(a, 0)
		switch v.(type) {
		case nil, undefinedType:
			return nil, readPropError(v, "length")
		}
		return propertyOf(v, "length")
	},
	"typeof": func(_ *runtime, a []any) (any, error) { return typeOf(arg(a, 0)), nil },
	"isarray": func(_ *runtime, a []any) (any, error) {
		_, ok := arg(a, 0).([]any)
		return ok, nil
	},
	"isnan": func(_ *runtime, a []any) (any, error) {
		f := toNumber(arg(a, 0))
		return f != f, nil
	},
	"parseint":    func(_ *runtime, a []any) (any, error) { return parseIntJS(toString(arg(a, 0))), nil },
	"parsefloat":  func(_ *runtime, a []any) (any, error) { return parseFloatJS(toString(arg(a, 0))), nil },
	"toisodate":   toISO,
	"toisostring": toISO,
	"timeoffset": func(rt *runtime, a []any) (any, error) {
		t := toTimeValue(arg(a, 0), rt.opts.Location)
		if t != t {
			return math.NaN(), nil
		}
		_, off := msToTime(t).In(rt.opts.Location).Zone()
		return float64(-off / 60), nil
	},
	"tostring": func(_ *runtime, a []any) (any, error) {
		v := arg(a, 0)
		switch v.(type) {
		case nil, undefinedType:
			return nil, readPropError(v, "toString")
		}
		return toString(v), nil
	},
	"urlencode": func(rt *runtime, a []any) (any, error) {
		return encodeURI(toString(arg(a, 0)), rt.opts.MaxStringLen)
	},
	"urldecode": func(_ *runtime, a []any) (any, error) {
		return decodeURI(toString(arg(a, 0)))
	},
	"replacestr": func(rt *runtime, a []any) (any, error) {
		s, err := requireString(arg(a, 0), "str", "replace")
		if err != nil {
			return nil, err
		}
		return replaceString(s, toString(arg(a, 1)), toString(arg(a, 2)), false, rt.opts.MaxStringLen)
	},
	"replaceallstr": func(rt *runtime, a []any) (any, error) {
		s, err := requireString(arg(a, 0), "str", "replaceAll")
		if err != nil {
			return nil, err
		}
		return replaceString(s, toString(arg(a, 1)), toString(arg(a, 2)), true, rt.opts.MaxStringLen)
	},
	"replaceregexp": func(rt *runtime, a []any) (any, error) {
		return replaceRegexp(a, false, rt.opts.MaxStringLen)
	},
	"replaceallregexp": func(rt *runtime, a []any) (any, error) {
		return replaceRegexp(a, true, rt.opts.MaxStringLen)
	},
	"split": func(rt *runtime, a []any) (any, error) {
		s, err := requireString(arg(a, 0), "str", "split")
		if err != nil {
			return nil, err
		}
		sepv := arg(a, 1)
		if sepv == undefined {
			return []any{s}, nil
		}
		sep := toString(sepv)
		var parts []string
		if sep == "" {
			u := to16(s)
			parts = make([]string, len(u))
			for i := range u {
				parts[i] = from16(u[i : i+1])
			}
		} else {
			parts = strings.Split(s, sep)
		}
		if len(parts) > rt.opts.MaxArrayLen {
			return nil, errLimit("array longer than %d elements", rt.opts.MaxArrayLen)
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	},
	"joinarrtostr": func(rt *runtime, a []any) (any, error) {
		arr, err := requireArray(arg(a, 0), "arr", "join")
		if err != nil {
			return nil, err
		}
		sep := ","
		if s := arg(a, 1); s != undefined {
			sep = toString(s)
		}
		if len(arr) > 0 && len(sep)*(len(arr)-1) > rt.opts.MaxStringLen {
			return nil, errLimit("string longer than %d bytes", rt.opts.MaxStringLen)
		}
		out := joinArray(arr, sep)
		if len(out) > rt.opts.MaxStringLen {
			return nil, errLimit("string longer than %d bytes", rt.opts.MaxStringLen)
		}
		return out, nil
	},
	"concatarr": func(rt *runtime, a []any) (any, error) {
		switch x := arg(a, 0).(type) {
		case string:
			s := x + toString(arg(a, 1))
			if len(s) > rt.opts.MaxStringLen {
				return nil, errLimit("string longer than %d bytes", rt.opts.MaxStringLen)
			}
			return s, nil
		case []any:
			other := arg(a, 1)
			extra := 1
			if o, ok := other.([]any); ok {
				extra = len(o)
			}
			if len(x)+extra > rt.opts.MaxArrayLen {
				return nil, errLimit("array longer than %d elements", rt.opts.MaxArrayLen)
			}
			out := make([]any, 0, len(x)+extra)
			out = append(out, x...)
			if o, ok := other.([]any); ok {
				out = append(out, o...)
			} else if len(a) > 1 {
				out = append(out, other)
			}
			return out, nil
		default:
			_, err := requireArray(x, "arr", "concat")
			return nil, err
		}
	},
	"mapper": func(_ *runtime, a []any) (any, error) {
		val := arg(a, 0)
		values, err := requireArray(arg(a, 1), "values", "findIndex")
		if err != nil {
			return nil, err
		}
		idx := -1
		for i, t := range values {
			// The documented function compares with == (loose equality).
			if looseEqual(norm(t), val) {
				idx = i
				break
			}
		}
		return indexChoices(arg(a, 2), numberToString(float64(idx)))
	},
	"thmapper": func(_ *runtime, a []any) (any, error) {
		val := arg(a, 0)
		values, err := requireArray(arg(a, 1), "values", "reduce")
		if err != nil {
			return nil, err
		}
		var acc any // null
		for i, curr := range values {
			if f, ok := acc.(float64); (ok && f == 0) || truthy(acc) {
				continue
			}
			// val <= curr
			if r, ok := lessThan(norm(curr), val); ok && !r {
				acc = float64(i)
			} else {
				acc = nil
			}
		}
		return indexChoices(arg(a, 2), toString(acc))
	},
	"bitwisemask": func(_ *runtime, a []any) (any, error) {
		i, mask, op := arg(a, 0), arg(a, 1), arg(a, 2)
		var left float64
		opS, _ := op.(string)
		switch opS {
		case "&":
			left = float64(toInt32(parseIntJS(toString(i))) & toInt32(toNumber(mask)))
		case "|":
			left = float64(toInt32(parseIntJS(toString(i))) | toInt32(toNumber(mask)))
		case "^":
			left = float64(toInt32(parseIntJS(toString(i))) ^ toInt32(toNumber(mask)))
		default:
			left = toNumber(i)
		}
		shift := uint32(toInt32(toNumber(arg(a, 3)))) & 31
		return float64(toInt32(left) >> shift), nil
	},
	"slice": func(_ *runtime, a []any) (any, error) {
		switch x := arg(a, 0).(type) {
		case []any:
			start := relIndex(arg(a, 1), len(x), 0)
			end := relIndex(arg(a, 2), len(x), len(x))
			if start >= end {
				return []any{}, nil
			}
			return append([]any(nil), x[start:end]...), nil
		case string:
			n := len16(x)
			start := relIndex(arg(a, 1), n, 0)
			end := relIndex(arg(a, 2), n, n)
			if start >= end {
				return "", nil
			}
			return substring16(x, start, end), nil
		default:
			_, err := requireArray(x, "arr", "slice")
			return nil, err
		}
	},
	"addset": func(rt *runtime, a []any) (any, error) {
		s, err := newSet(arg(a, 0))
		if err != nil {
			return nil, err
		}
		s.add(arg(a, 1))
		if len(s.items) > rt.opts.MaxArrayLen {
			return nil, errLimit("array longer than %d elements", rt.opts.MaxArrayLen)
		}
		return s.items, nil
	},
	"removeset": func(_ *runtime, a []any) (any, error) {
		s, err := newSet(arg(a, 0))
		if err != nil {
			return nil, err
		}
		s.remove(arg(a, 1))
		if s.items == nil {
			return []any{}, nil
		}
		return s.items, nil
	},
	"touppercase": func(_ *runtime, a []any) (any, error) { return toUpperJS(toString(arg(a, 0))), nil },
	"tolowercase": func(_ *runtime, a []any) (any, error) { return toLowerJS(toString(arg(a, 0))), nil },
	"floor":       func(_ *runtime, a []any) (any, error) { return math.Floor(toNumber(arg(a, 0))), nil },
	"ceil":        func(_ *runtime, a []any) (any, error) { return math.Ceil(toNumber(arg(a, 0))), nil },
	"round":       func(_ *runtime, a []any) (any, error) { return jsRound(toNumber(arg(a, 0))), nil },
	"tofixed": func(_ *runtime, a []any) (any, error) {
		x := parseFloatJS(toString(arg(a, 0)))
		d := toIntegerOrInfinity(arg(a, 1))
		if d < 0 || d > 100 {
			return nil, jsErrorf(ErrRangeError, "toFixed() digits argument must be between 0 and 100")
		}
		return toFixed(x, int(d)), nil
	},
	"gettime": func(rt *runtime, a []any) (any, error) {
		return toTimeValue(arg(a, 0), rt.opts.Location), nil
	},
	"localestring": func(rt *runtime, a []any) (any, error) {
		return localeString(toTimeValue(arg(a, 0), rt.opts.Location), arg(a, 1), arg(a, 2), rt.opts.Location)
	},
	"now": func(rt *runtime, _ []any) (any, error) {
		return float64(rt.opts.Now().UnixMilli()), nil
	},
	"hextostring": func(_ *runtime, a []any) (any, error) {
		s, err := requireString(arg(a, 0), "val", "match")
		if err != nil {
			return nil, err
		}
		return hexToString(s)
	},
	"valuePicker":      valuePicker,
	"valuepicker":      valuePicker,
	"valuePickerMulti": valuePickerMulti,
	"valuepickermulti": valuePickerMulti,
}

// indexChoices evaluates choices[key] (mapper, thmapper).
func indexChoices(choices any, key string) (any, error) {
	switch choices.(type) {
	case nil, undefinedType:
		return nil, readPropError(choices, key)
	}
	return propertyOf(choices, key)
}

func toISO(rt *runtime, a []any) (any, error) {
	t := toTimeValue(arg(a, 0), rt.opts.Location)
	if t != t {
		return nil, jsErrorf(ErrRangeError, "Invalid time value")
	}
	return isoString(t), nil
}

func valuePicker(_ *runtime, a []any) (any, error) {
	pick := arg(a, 1)
	return pickKeys(arg(a, 0), func(v any) (bool, error) { return strictEqual(v, pick), nil })
}

func valuePickerMulti(_ *runtime, a []any) (any, error) {
	pick := arg(a, 1)
	return pickKeys(arg(a, 0), func(v any) (bool, error) {
		switch p := pick.(type) {
		case []any:
			for _, e := range p {
				if sameValueZero(norm(e), v) {
					return true, nil
				}
			}
			return false, nil
		case string:
			return indexOf16(p, toString(v), 0) >= 0, nil
		default:
			_, err := requireArray(p, "pick", "includes")
			return false, err
		}
	})
}

// pickKeys returns the keys of obj (an object or array) whose values match,
// in order.
func pickKeys(obj any, match func(v any) (bool, error)) (any, error) {
	keys, vals, err := entries(obj)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for i, k := range keys {
		hit, err := match(vals[i])
		if err != nil {
			return nil, err
		}
		if hit {
			out = append(out, k)
		}
	}
	return out, nil
}
