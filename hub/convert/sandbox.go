package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/gridedge/gridedge/shared/config"
)

// Limits are the budgets of one converter call (see the package
// documentation for what each bounds and how).
type Limits struct {
	// Timeout interrupts a JavaScript call (default 100ms; seconds or a
	// duration string).
	Timeout config.Duration `json:"timeout,omitempty"`
	// MaxInputBytes bounds the source document as JSON (default 1 MiB).
	MaxInputBytes int `json:"maxInputBytes,omitempty"`
	// MaxOutputBytes bounds the result as JSON (default 1 MiB).
	MaxOutputBytes int `json:"maxOutputBytes,omitempty"`
	// MaxAllocBytes interrupts a call once the process allocated this much
	// more than when it started (default 64 MiB).
	MaxAllocBytes uint64 `json:"maxAllocBytes,omitempty"`
	// MaxArrayLength bounds the arrays built-ins work on (default 100000).
	MaxArrayLength int `json:"maxArrayLength,omitempty"`
	// MaxStringLength bounds the strings repeat, padStart, padEnd, replace
	// and replaceAll make (default 1Mi characters).
	MaxStringLength int `json:"maxStringLength,omitempty"`
	// MaxCallDepth bounds the JavaScript call stack (default 256).
	MaxCallDepth int `json:"maxCallDepth,omitempty"`
}

// Defaults fills unset limits.
func (l *Limits) Defaults() {
	if l.Timeout <= 0 {
		l.Timeout = config.Duration(100 * time.Millisecond)
	}
	if l.MaxInputBytes <= 0 {
		l.MaxInputBytes = 1 << 20
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = 1 << 20
	}
	if l.MaxAllocBytes == 0 {
		l.MaxAllocBytes = 64 << 20
	}
	if l.MaxArrayLength <= 0 {
		l.MaxArrayLength = 100_000
	}
	if l.MaxStringLength <= 0 {
		l.MaxStringLength = 1 << 20
	}
	if l.MaxCallDepth <= 0 {
		l.MaxCallDepth = 256
	}
}

// removedGlobals are taken out of every runtime: binary buffers allocate
// their length in one step, and Proxy and weak references are of no use to
// a data transformation.
var removedGlobals = []string{
	"ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray",
	"Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array",
	"BigInt64Array", "BigUint64Array", "WeakRef", "FinalizationRegistry", "Proxy",
}

// call is one sandboxed converter call: a fresh runtime with its budgets.
type call struct {
	vm  *goja.Runtime
	lim *Limits

	mu      sync.Mutex
	done    bool
	timer   *time.Timer
	memTick *time.Timer
	base    uint64
	sample  []metrics.Sample
}

const allocMetric = "/gc/heap/allocs:bytes"

// interrupt values, told apart after the run.
type interruptReason int

const (
	reasonTimeout interruptReason = iota + 1
	reasonMemory
)

// newCall makes a sandboxed runtime and arms its budgets; end must be called.
func newCall(lim *Limits) *call {
	c := &call{vm: goja.New(), lim: lim, sample: []metrics.Sample{{Name: allocMetric}}}
	c.vm.SetMaxCallStackSize(lim.MaxCallDepth)
	g := c.vm.GlobalObject()
	for _, n := range removedGlobals {
		_ = g.Delete(n)
	}
	c.guard()
	c.mu.Lock() // checkMemory may run before memTick is assigned
	c.timer = time.AfterFunc(lim.Timeout.Std(), func() { c.vm.Interrupt(reasonTimeout) })
	c.memTick = time.AfterFunc(time.Millisecond, c.checkMemory)
	c.mu.Unlock()
	return c
}

func (c *call) allocated() uint64 {
	metrics.Read(c.sample)
	if c.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return c.sample[0].Value.Uint64()
}

// checkMemory runs every millisecond while the call runs.
func (c *call) checkMemory() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	// the baseline is read at the first tick: reading the metric takes a
	// consistent snapshot of every P's counters, too slow for calls that
	// end within a millisecond, which are most
	if c.base == 0 {
		c.base = c.allocated()
	} else if c.allocated()-c.base > c.lim.MaxAllocBytes {
		c.vm.Interrupt(reasonMemory)
		return
	}
	c.memTick.Reset(time.Millisecond)
}

// end disarms the budgets.
func (c *call) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	c.timer.Stop()
	c.memTick.Stop()
}

// rangeError throws a RangeError naming the budget; run maps it to ErrMemory.
func (c *call) rangeError(format string, args ...any) {
	panic(c.vm.NewGoError(fmt.Errorf("%w: "+format, append([]any{ErrMemory}, args...)...)))
}

// lengthOf is ToLength(o.length) of an object (0 for others).
func lengthOf(v goja.Value) int64 {
	o, ok := v.(*goja.Object)
	if !ok {
		return 0
	}
	l := o.Get("length")
	if l == nil {
		return 0
	}
	f := l.ToFloat()
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	if f > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(f)
}

// wrap replaces obj[name] by a function that runs check first.
func (c *call) wrap(obj *goja.Object, name string, check func(call goja.FunctionCall)) {
	orig, ok := goja.AssertFunction(obj.Get(name))
	if !ok {
		return
	}
	f := c.vm.ToValue(func(fc goja.FunctionCall) goja.Value {
		check(fc)
		v, err := orig(fc.This, fc.Arguments...)
		if err != nil {
			panic(err)
		}
		return v
	})
	_ = obj.DefineDataProperty(name, f, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

// arrayMethods are the Array.prototype methods that loop over this.length.
var arrayMethods = []string{
	"at", "concat", "copyWithin", "entries", "every", "fill", "filter", "find", "findIndex", "findLast",
	"findLastIndex", "flat", "flatMap", "forEach", "includes", "indexOf", "join", "keys", "lastIndexOf",
	"map", "pop", "push", "reduce", "reduceRight", "reverse", "shift", "slice", "some", "sort", "splice",
	"toLocaleString", "toReversed", "toSorted", "toSpliced", "toString", "unshift", "values", "with",
}

// guard wraps the built-ins that allocate or loop in one native step.
func (c *call) guard() {
	vm, maxArr, maxStr := c.vm, int64(c.lim.MaxArrayLength), int64(c.lim.MaxStringLength)
	arrayCheck := func(fc goja.FunctionCall) {
		if n := lengthOf(fc.This); n > maxArr {
			c.rangeError("array of %d elements (limit %d)", n, maxArr)
		}
		for _, a := range fc.Arguments {
			if n := lengthOf(a); n > maxArr {
				c.rangeError("array of %d elements (limit %d)", n, maxArr)
			}
		}
	}
	array := vm.Get("Array").ToObject(vm)
	proto := array.Get("prototype").ToObject(vm)
	for _, m := range arrayMethods {
		c.wrap(proto, m, arrayCheck)
	}
	c.wrap(array, "from", func(fc goja.FunctionCall) {
		if n := lengthOf(fc.Argument(0)); n > maxArr {
			c.rangeError("Array.from of %d elements (limit %d)", n, maxArr)
		}
	})
	// new Array(n): a sparse array costs nothing, but keep n in range so
	// that the methods above are the only way to a long one
	_ = vm.Set("Array", vm.ToValue(func(cc goja.ConstructorCall) *goja.Object {
		if len(cc.Arguments) == 1 {
			if n := cc.Arguments[0].ToFloat(); n > float64(maxArr) {
				c.rangeError("new Array(%v) (limit %d)", n, maxArr)
			}
		}
		o, err := vm.New(array, cc.Arguments...)
		if err != nil {
			panic(err)
		}
		return o
	}))
	newArray := vm.Get("Array").ToObject(vm)
	_ = newArray.Set("prototype", proto)
	for _, k := range []string{"from", "of", "isArray"} {
		_ = newArray.Set(k, array.Get(k))
	}
	_ = proto.DefineDataProperty("constructor", newArray, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)

	str := vm.Get("String").ToObject(vm).Get("prototype").ToObject(vm)
	strLen := func(fc goja.FunctionCall) int64 { return int64(len(fc.This.String())) }
	c.wrap(str, "repeat", func(fc goja.FunctionCall) {
		if n := fc.Argument(0).ToFloat() * float64(strLen(fc)); n > float64(maxStr) {
			c.rangeError("repeat to %v characters (limit %d)", n, maxStr)
		}
	})
	for _, m := range []string{"padStart", "padEnd"} {
		c.wrap(str, m, func(fc goja.FunctionCall) {
			if n := fc.Argument(0).ToFloat(); n > float64(maxStr) {
				c.rangeError("%s to %v characters (limit %d)", m, n, maxStr)
			}
		})
	}
	for _, m := range []string{"replace", "replaceAll"} {
		c.wrap(str, m, func(fc goja.FunctionCall) {
			r := fc.Argument(1)
			if _, isFn := goja.AssertFunction(r); isFn {
				return // the callback's results are built by interruptible code
			}
			n, rl := strLen(fc), int64(len(r.String()))
			if n+(n+1)*rl > 16*maxStr && rl > 0 {
				c.rangeError("%s could make %d characters (limit %d)", m, n+(n+1)*rl, 16*maxStr)
			}
		})
	}
	js := vm.Get("JSON").ToObject(vm)
	c.wrap(js, "stringify", func(fc goja.FunctionCall) {
		budget := maxArr
		c.walk(fc.Argument(0), &budget, 0)
	})
}

// walk refuses values holding an array longer than MaxArrayLength or more
// than MaxArrayLength values in all, before JSON.stringify makes a string
// of them in one step.
func (c *call) walk(v goja.Value, budget *int64, depth int) {
	o, ok := v.(*goja.Object)
	if !ok || depth > c.lim.MaxCallDepth {
		return
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		return
	}
	n := lengthOf(o)
	keys := o.Keys()
	if n < int64(len(keys)) {
		n = int64(len(keys))
	}
	if *budget -= n; *budget < 0 {
		c.rangeError("JSON.stringify of more than %d values", c.lim.MaxArrayLength)
	}
	for _, k := range keys {
		c.walk(o.Get(k), budget, depth+1)
	}
}

// toJS converts a Go JSON-like value to a JavaScript value through JSON, so
// that the script gets plain objects and never the caller's maps.
func (c *call) toJS(v any) (goja.Value, error) {
	switch t := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, float64, int, int64:
		return c.vm.ToValue(t), nil
	case time.Time:
		return c.vm.New(c.vm.Get("Date"), c.vm.ToValue(t.UnixMilli()))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the input as JSON: %w", err)
	}
	if len(b) > c.lim.MaxInputBytes {
		return nil, fmt.Errorf("%w: input of %d bytes as JSON (limit %d)", ErrTooLarge, len(b), c.lim.MaxInputBytes)
	}
	parse, _ := goja.AssertFunction(c.vm.Get("JSON").ToObject(c.vm).Get("parse"))
	return parse(goja.Undefined(), c.vm.ToValue(string(b)))
}

// run calls fn with args and returns the exported result.
func (c *call) run(what string, fn goja.Callable, args ...goja.Value) (out any, err error) {
	res, err := fn(goja.Undefined(), args...)
	if err != nil {
		return nil, c.scriptError(what, err)
	}
	return c.export(what, res)
}

// export turns the result into JSON data (maps, slices, float64, string,
// bool, nil, time.Time) in one pass: each property is read once (a getter
// runs once, under the call's budgets, and what it returned is what is
// kept), arrays longer than MaxArrayLength and results larger than
// MaxOutputBytes as JSON are refused before anything is built for them.
func (c *call) export(what string, v goja.Value) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
			if e, ok := r.(error); ok {
				err = fmt.Errorf("%s: %w", what, c.scriptError("result", e))
				return
			}
			err = fmt.Errorf("%w: %s: %v", ErrScript, what, r)
		}
	}()
	ex := exporter{c: c, bytes: c.lim.MaxOutputBytes, values: c.lim.MaxArrayLength}
	out = ex.value(v, 0)
	if ex.err != nil {
		return nil, fmt.Errorf("%s: %w", what, ex.err)
	}
	return out, nil
}

var promiseType = reflect.TypeOf((*goja.Promise)(nil))

// exporter is one export's budgets; err stops it.
type exporter struct {
	c      *call
	bytes  int // JSON bytes left
	values int // values left
	err    error
}

func (x *exporter) charge(bytes int) bool {
	if x.err != nil {
		return false
	}
	x.bytes -= bytes
	x.values--
	switch {
	case x.bytes < 0:
		x.err = fmt.Errorf("%w: result larger than the output limit (%d bytes as JSON)", ErrTooLarge, x.c.lim.MaxOutputBytes)
	case x.values < 0:
		x.err = fmt.Errorf("%w: the result holds more than %d values", ErrTooLarge, x.c.lim.MaxArrayLength)
	}
	return x.err == nil
}

func (x *exporter) value(v goja.Value, depth int) any {
	if x.err != nil {
		return nil
	}
	if depth > x.c.lim.MaxCallDepth {
		x.err = fmt.Errorf("%w: the result is nested deeper than %d (a cycle?)", ErrTooLarge, x.c.lim.MaxCallDepth)
		return nil
	}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		x.charge(4)
		return nil
	}
	o, isObj := v.(*goja.Object)
	if !isObj {
		switch p := v.Export().(type) {
		case string:
			x.charge(len(p) + 2)
			return p
		case bool:
			x.charge(5)
			return p
		case int64:
			x.charge(8)
			return float64(p)
		case float64:
			x.charge(8)
			if math.IsNaN(p) || math.IsInf(p, 0) {
				return nil // as JSON.stringify does
			}
			return p
		default:
			x.err = fmt.Errorf("%w: the result holds a %s, which is not JSON data", ErrScript, v.String())
			return nil
		}
	}
	if o.ExportType() == promiseType { // ExportType does not export

		x.err = fmt.Errorf("%w: the result holds a Promise: converters are synchronous (no async functions)", ErrScript)
		return nil
	}
	switch o.ClassName() {
	case "Function":
		x.err = fmt.Errorf("%w: the result holds a function, which is not JSON data", ErrScript)
		return nil

	case "Date":
		x.charge(26)
		if t, ok := o.Export().(time.Time); ok {
			return t.UTC()
		}
		return nil
	case "Array":
		n := lengthOf(o)
		if n > int64(x.c.lim.MaxArrayLength) {
			x.err = fmt.Errorf("%w: the result holds an array of %d elements (limit %d)", ErrTooLarge, n, x.c.lim.MaxArrayLength)
			return nil
		}
		if !x.charge(2) {
			return nil
		}
		out := make([]any, 0, min(n, 1024))
		for i := int64(0); i < n && x.err == nil; i++ {
			out = append(out, x.value(o.Get(strconv.FormatInt(i, 10)), depth+1))
		}
		return out
	}
	if !x.charge(2) {
		return nil
	}
	keys := o.Keys()
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if !x.charge(len(k) + 4) {
			return nil
		}
		fv := o.Get(k)
		if fo, ok := fv.(*goja.Object); ok && fo.ClassName() == "Function" {
			continue // as JSON.stringify does with methods
		}
		out[k] = x.value(fv, depth+1)
	}
	return out
}

// scriptError maps a goja error to the package's errors.
func (c *call) scriptError(what string, err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		switch ie.Value() {
		case reasonTimeout:
			return fmt.Errorf("%w: %s ran longer than %v", ErrTimeout, what, c.lim.Timeout.Std())
		case reasonMemory:
			return fmt.Errorf("%w: %s allocated more than %d bytes", ErrMemory, what, c.lim.MaxAllocBytes)
		}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		if ge := ex.Unwrap(); ge != nil && errors.Is(ge, ErrMemory) {
			return fmt.Errorf("%s: %w", what, ge)
		}
		return fmt.Errorf("%w: %s: %s", ErrScript, what, ex.Error())
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return fmt.Errorf("%w: %s: call stack deeper than %d", ErrScript, what, c.lim.MaxCallDepth)
	}
	return fmt.Errorf("%w: %s: %v", ErrScript, what, err)
}
