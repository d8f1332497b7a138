package codec

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gridedge/gridedge/edge/settings"
)

// shortestFloat32 widens f to the float64 nearest to f's shortest decimal
// form, so that 232.67882 reads as 232.67882 and not 232.67881774902344; the
// result still converts back to the same float32 bits.
func shortestFloat32(f float32) float64 {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return float64(f)
	}
	var buf [32]byte
	d, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)), 64)
	if err != nil {
		return float64(f)
	}
	return d
}

// halfToFloat converts an IEEE-754 binary16 value.
func halfToFloat(h uint16) float64 {
	exp := int(h >> 10 & 0x1F)
	mant := float64(h & 0x3FF)
	var f float64
	switch exp {
	case 0: // zero and subnormals: mant × 2^-24
		f = math.Ldexp(mant, -24)
	case 0x1F:
		if mant == 0 {
			f = math.Inf(1)
		} else {
			f = math.NaN()
		}
	default:
		f = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		f = math.Copysign(f, -1)
	}
	return f
}

// halfFromFloat converts f to binary16 with round-to-nearest-even; ok is
// false when a finite f overflows.
func halfFromFloat(f float64) (h uint16, ok bool) {
	var sign uint16
	if math.Signbit(f) {
		sign = 0x8000
	}
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return sign | 0x7E00, true
	case math.IsInf(f, 0):
		return sign | 0x7C00, true
	case a < 0x1p-14: // subnormal (or zero); 1024 × 2^-24 rounds up to the smallest normal
		return sign | uint16(math.RoundToEven(a*0x1p24)), true
	}
	e := math.Ilogb(a)
	m := math.RoundToEven(math.Ldexp(a, 10-e))
	if m == 2048 {
		m = 1024
		e++
	}
	if e > 15 {
		return 0, false
	}
	return sign | uint16(e+15)<<10 | uint16(m-1024), true
}

// encodeFloat reverses offset and factor and lays the 16-, 32- or 64-bit
// float of width out in order ord.
func encodeFloat(v *settings.Variable, width uint, ord byteOrder, value any, regs, mask []uint16) error {
	n, err := toNumber(v, value)
	if err != nil {
		return err
	}
	f := unscale(v, n.f)
	var u uint64
	switch width {
	case 16:
		h, ok := halfFromFloat(f)
		if !ok {
			return fmt.Errorf("%w: %v overflows 16float (max 65504)", ErrRange, f)
		}
		u = uint64(h)
	case 32:
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) && !math.IsInf(f, 0) {
			return fmt.Errorf("%w: %v overflows 32float", ErrRange, f)
		}
		u = uint64(math.Float32bits(f32))
	default:
		u = math.Float64bits(f)
	}
	ord.disassemble(u, regs)
	for i := range mask {
		mask[i] = 0xFFFF
	}
	return nil
}
