package codec

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"

	"github.com/gridedge/gridedge/edge/settings"
)

// f64p and u64p point at a value, for the optional Factor, Offset and Mask.
func f64p(f float64) *float64 { return &f }
func u64p(u uint64) *uint64   { return &u }

// reg returns a holding variable of datatype dt at address 0.
func reg(dt string) settings.Variable {
	return settings.Variable{Name: dt, Type: settings.TypeHolding, Datatype: dt}
}

// with returns v changed by f.
func with(v settings.Variable, f func(*settings.Variable)) settings.Variable {
	f(&v)
	return v
}

// ordered returns a holding variable of datatype dt with byte order order.
func ordered(dt, order string) settings.Variable {
	return with(reg(dt), func(v *settings.Variable) { v.Order = order })
}

// sameValue compares decoded values: float64 within 1e-12 relative, NaN
// equal to NaN, the sign of zero checked; everything else exactly.
func sameValue(got, want any) bool {
	g, gok := got.(float64)
	w, wok := want.(float64)
	if gok && wok {
		switch {
		case math.IsNaN(w):
			return math.IsNaN(g)
		case w == 0:
			return g == 0 && math.Signbit(g) == math.Signbit(w)
		case math.IsInf(w, 0):
			return g == w
		}
		return math.Abs(g-w) <= 1e-12*math.Abs(w)
	}
	return reflect.DeepEqual(got, want)
}

// pi32 is float32(π) as Decode reports it: its shortest decimal form.
var pi32 = 3.1415927

// describe shows a variable definition as JSON, for failure messages.
func describe(v *settings.Variable) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", *v)
	}
	return string(b)
}
