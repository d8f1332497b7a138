// Package expression evaluates measurement-transformation expressions written
// for the FIWARE IoT agents (iotagent-node-lib), whose expression language is
// JEXL 2.x with the transform set of jexlTransformsMap.js. Expressions from
// IoT-agent configurations evaluate unchanged and give the result the
// JavaScript implementation gives.
//
// A small front end parses JEXL (pipes, filters, relative identifiers, object
// and array literals, JEXL's precedence and quirks) and reports syntax errors
// with the byte offset in the original source. The tree is translated into a
// github.com/expr-lang/expr syntax tree in which every operator and property
// access is a call of a function with JavaScript semantics, and compiled once
// into an expr-lang bytecode program; Eval runs it on a pooled VM.
//
//	p, err := expression.Compile("location | split(', ')[1] | parsefloat()", expression.Options{})
//	v, err := p.Eval(map[string]any{"location": "40.4165, -3.70256"}) // -3.70256
//
// # Values
//
// Numbers are float64 and behave as JavaScript numbers: 0.1+0.2 is
// 0.30000000000000004, 1/0 is +Inf, "a"*2 is NaN, `+` concatenates when
// either side is a string and numbers print as Number.prototype.toString does
// (3, 1e+21, 1e-7). == is JavaScript's loose equality, < and friends compare
// strings by UTF-16 code units, && and || return one of their operands, and
// string indexes, lengths and substr/slice/indexOf count UTF-16 code units.
// A variable missing from the context is undefined: it prints as
// "undefined", equals null under ==, and reading a property of it gives
// undefined, as in JEXL.
//
// Context values may be any Go values: integers and float32 become float64,
// slices become arrays, maps with string keys become objects, json.Number is
// parsed, time.Time becomes its ISO string, and other types (structs) are
// converted as encoding/json would encode them. The context is never
// modified and results never alias it.
//
// Eval returns float64, string, bool, nil (null and undefined), []any or
// map[string]any; object properties that are undefined are dropped, as
// JSON.stringify drops them, and NaN/±Inf are returned as float64.
// EvalJSON returns what JSON.stringify would print, with object keys in
// JavaScript order (integer-like keys ascending, then insertion order) and
// NaN, ±Inf and undefined as null.
//
// # Sandbox and limits
//
// Only the transforms below can be called; there is no I/O and no loop. The
// syntax tree is bounded by Options.MaxNodes and the source by
// Options.MaxLength; strings and arrays an expression builds are bounded by
// Options.MaxStringLen and Options.MaxArrayLen (ErrLimit). Runtime errors are
// *EvalError values wrapping ErrTypeError, ErrRangeError, ErrSyntaxError or
// ErrURIError where JavaScript would throw the corresponding exception.
//
// # Syntax
//
//	literals      6  3.5  -2  'single'  "double"  true  false  [1, x]  {a: 1, "b c": x}
//	variables     value  object.name  array[0]  object["name"]  .name (relative)
//	operators     + - * / // (floor division) % ^ (power)  == != < <= > >=  in  && ||  !
//	conditional   cond ? a : b    a ?: b
//	filter        objs[.type == 'power'].value   (keeps elements whose expression is truthy)
//	transforms    value|name   value|name(arg, …)   name(value, arg, …)
//
// Precedence, tightest first: member access, indexing and transforms
// (postfix, left to right); ! and unary -; % ^; * / //; + -; comparisons
// and in; && ||; the conditional. So `a|f + 1` is f(a) + 1 and `2*3%2` is 2.
// JEXL quirks that are kept: a property read on an array reads it from the
// first element (objs.a), strings have no escape sequences besides \' and
// \" (and the first \\), numbers have no exponent form, a parenthesis left
// open at the end is accepted, and parentheses inside a filter make it a
// static index.
//
// Extensions (JEXL rejects these; they never change the meaning of an
// expression JEXL accepts): unary minus on any operand and after a comma,
// indexing after literals and parentheses, a conditional after a
// transform, string keys in object literals, calling a transform as a
// function (now(), round(x)), and valuepicker/valuepickermulti as lowercase
// aliases. Calling an unknown transform is a compile error
// (ErrUnknownTransform) rather than an evaluation error.
//
// # Transforms
//
// The transform set of iotagent-node-lib, each with the semantics of its
// JavaScript definition:
//
//	transform                        JavaScript
//	jsonparse(str)                   JSON.parse(str)                       objects keep key order
//	jsonstringify(obj)               JSON.stringify(obj)
//	indexOf(val, char)               String(val).indexOf(char)             -1 when absent
//	length(val)                      String(val).length
//	trim(val)                        String(val).trim()
//	substr(val, int1, int2)          String(val).substr(int1, int2)        negative start counts from the end
//	addreduce(arr)                   arr.reduce((i, v) => i + v)           JS +, so strings concatenate
//	lengtharray(arr)                 arr.length
//	typeof(val)                      typeof val
//	isarray(arr)                     Array.isArray(arr)
//	isnan(val)                       isNaN(val)
//	parseint(val)                    parseInt(val)                         "12abc" → 12, "abc" → NaN
//	parsefloat(val)                  parseFloat(val)
//	toisodate(val)                   new Date(val).toISOString()           ms since the epoch or a date string
//	timeoffset(isostr)               new Date(isostr).getTimezoneOffset()  in Options.Location
//	tostring(val)                    val.toString()
//	urlencode(val)                   encodeURI(val)
//	urldecode(val)                   decodeURI(val)
//	replacestr(str, from, to)        str.replace(from, to)                 first occurrence, $& $` $' $$
//	replaceregexp(str, reg, to)      str.replace(new RegExp(reg), to)      $1 $<name> in to
//	replaceallstr(str, from, to)     str.replaceAll(from, to)
//	replaceallregexp(str, reg, to)   str.replaceAll(new RegExp(reg, "g"), to)
//	split(str, ch)                   str.split(ch)
//	joinarrtostr(arr, ch)            arr.join(ch)
//	concatarr(arr, arr2)             arr.concat(arr2)
//	mapper(val, values, choices)     choices[values.findIndex((target) => target == val)]
//	thmapper(val, values, choices)   choices[index of the first threshold with val <= threshold]
//	bitwisemask(i, mask, op, shf)    (op is "&", "|" or "^" ? parseInt(i) op mask : i) >> shf
//	slice(arr, init, end)            arr.slice(init, end)                  arrays and strings
//	addset(arr, x)                   Array.from(new Set(arr).add(x))
//	removeset(arr, x)                new Set(arr) without x, as an array
//	touppercase(val)                 String(val).toUpperCase()
//	tolowercase(val)                 String(val).toLowerCase()
//	round(val)                       Math.round(val)                       -2.5 → -2
//	floor(val)                       Math.floor(val)
//	ceil(val)                        Math.ceil(val)
//	tofixed(val, decimals)           Number.parseFloat(val).toFixed(decimals)  (1.005).toFixed(2) = "1.00"
//	gettime(d)                       new Date(d).getTime()
//	toisostring(d)                   new Date(d).toISOString()
//	localestring(d, locale, opts)    new Date(d).toLocaleString(locale, opts)
//	now()                            Date.now()                            Options.Now
//	hextostring(val)                 TextDecoder().decode(bytes of the hex string)
//	valuePicker(val, pick)           keys of val whose value === pick
//	valuePickerMulti(val, pick)      keys of val whose value is in pick
//
// # Differences from JavaScript
//
// Date strings: the ISO format is parsed as V8 does (date-only forms in UTC,
// date-time forms without an offset in Options.Location); of V8's legacy
// formats only the common ones (RFC 1123, Date.prototype.toString output,
// "2021-11-18 14:20:14", "2021/11/18", "11/18/2021", "Nov 18 2021") are
// understood, others give an invalid date. localestring knows the date and
// time patterns Node 20's ICU uses for en-US (the default), en-GB, en-IE,
// en-AU, en-CA, es, ca, eu, de, fr, it, pt, pt-PT, nl, sv, pl, ru, ja and
// zh (other locales print as en-US) and only the timeZone and hour12
// options; other options are an error. Time-zone names need the host's
// zoneinfo (or a program importing time/tzdata).
//
// Regular expressions (replaceregexp, replaceallregexp) run on Go's RE2
// engine after translating JavaScript syntax (\s, ., \uXXXX, [^]);
// lookaround and backreferences are reported as ErrSyntaxError.
//
// Strings are Go (UTF-8) strings: a lone UTF-16 surrogate, which JavaScript
// can produce by cutting a string inside an emoji, becomes U+FFFD.
// toUpperCase/toLowerCase follow Go's Unicode tables plus the special cases
// JavaScript applies most often (ß → SS, ligatures, İ, final sigma).
package expression
