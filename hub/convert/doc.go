// Package convert runs the X-FLEX data-model converters (seed 000, section
// 3.2.3): transformations stored as documents and referenced by id.
//
// Two kinds of transformation, exactly as in the seed:
//
//	{"_id": "my-transformation",
//	 "template": {"id": "{{id}}", "date": "=> toISO(timestamp)",
//	              "measurements": {"activeEnergyExported": {"timestamp": "{{timestamp}}", "value": "{{AEexp}}"}}},
//	 "functions": {"toISO": "(ts) => { return new Date(ts).toISOString(); }"}}
//
//	{"_id": "my-transformation", "code": "(d) => { d.newField = 'myData'; return d; }"}
//
// # Templates
//
// Templates are applied natively. Every string of the template may be:
//
//   - exactly one placeholder "{{path}}": the value of the source's field
//     (a dotted path, array elements by index) unchanged, so a number stays
//     a number; a missing field drops the key (in an array: null);
//   - text with placeholders ("meter-{{id}}"): the text with each
//     placeholder's value as a string (a missing field is the empty string);
//   - a call "=> fn(arg, …)": fn of functions, called with the arguments:
//     field paths (bare or as {{path}}) and JSON literals (numbers, quoted
//     strings, true, false, null); its result replaces the string;
//   - anything else, copied as is, as is every other JSON value.
//
// # JavaScript
//
// functions and code are JavaScript, run by github.com/dop251/goja (pure
// Go, no cgo) in a sandbox: each call gets a fresh runtime (so nothing a
// call changes, such as a polluted Object.prototype, is seen by the next
// one), which has no require, no console, no timers and no I/O of any
// kind; ArrayBuffer, SharedArrayBuffer, DataView, the typed arrays,
// WeakRef, FinalizationRegistry and Proxy are removed. Sources are
// compiled once per transformation version (Registry caches by _id and
// _updated), in strict mode.
//
// Budgets per call ([Limits]): the input and the output are at most
// MaxInputBytes / MaxOutputBytes as JSON; the call is interrupted after
// Timeout; the call stack is at most MaxCallDepth frames. goja has no hard
// memory limit, so memory is bounded three ways: (1) built-ins that
// allocate or loop in proportion to an argument in one native step, which
// an interrupt cannot stop (Array.prototype methods on arrays longer than
// MaxArrayLength, new Array(n), Array.from, String.prototype.repeat,
// padStart, padEnd, replace and replaceAll beyond MaxStringLength, and
// JSON.stringify of such arrays), throw a RangeError instead; (2) a
// watchdog samples the process's allocated bytes every millisecond while a
// call runs and interrupts it when they grew by more than MaxAllocBytes
// (process-wide, so other work counts against the call: a soft, generous
// bound; a single step may overshoot it by the size of the largest object
// it builds, at most a few times the string and array limits); (3) the
// output size check.
package convert
