package codec

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gridedge/gridedge/edge/settings"
)

// maxExactInt is 2^53: every integer of this magnitude or less is exact in a float64.
const maxExactInt = 1 << 53

// unsignedField applies shift and mask to the raw bits u.
func unsignedField(v *settings.Variable, u uint64) uint64 {
	if v.Shift >= 64 {
		u = 0
	} else {
		u >>= v.Shift
	}
	if v.Mask != nil {
		u &= *v.Mask
	}
	return u
}

// signExtend reads the low width bits of u as a two's-complement integer.
func signExtend(u uint64, width uint) int64 {
	s := 64 - width
	return int64(u<<s) >> s
}

// fromUint scales an unsigned raw value; wide (64-bit types) lets a value
// beyond 2^53 through exactly when the scale is plain.
func fromUint(v *settings.Variable, n uint64, wide bool) any {
	if wide && n > maxExactInt && plainScale(v) {
		return n
	}
	return scaleValue(v, float64(n))
}

// fromInt is fromUint for signed raw values.
func fromInt(v *settings.Variable, i int64, wide bool) any {
	if wide && (i > maxExactInt || i < -maxExactInt) && plainScale(v) {
		return i
	}
	return scaleValue(v, float64(i))
}

// toInteger turns a value into the signed integer raw value of an integer
// type: (neg, mag) is the sign and magnitude.
func toInteger(v *settings.Variable, value any) (neg bool, mag uint64, err error) {
	n, err := toNumber(v, value)
	if err != nil {
		return false, 0, err
	}
	if n.exact && plainScale(v) {
		return n.neg, n.mag, nil
	}
	y := unscale(v, n.f)
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return false, 0, fmt.Errorf("%w: %v is not a finite number", ErrRange, n.f)
	}
	r := math.Round(y)
	if math.Abs(y-r) > integralTolerance*max(1, math.Abs(y)) {
		return false, 0, fmt.Errorf("%w: %v gives %v once offset and factor are reversed", ErrNotIntegral, n.f, y)
	}
	if math.Abs(r) >= 0x1p64 {
		return false, 0, fmt.Errorf("%w: %v", ErrRange, n.f)
	}
	return r < 0, uint64(math.Abs(r)), nil
}

// lowMask returns a mask of the n low bits.
func lowMask(n uint) uint64 {
	if n >= 64 {
		return math.MaxUint64
	}
	return 1<<n - 1
}

// placeField checks that the field value fits the datatype, shift and mask
// and returns the raw pattern and the mask of the bits it sets.
func placeField(v *settings.Variable, info dtInfo, neg bool, mag uint64) (pattern, wmask uint64, err error) {
	w, s := info.width, v.Shift
	if s >= w {
		return 0, 0, fmt.Errorf("%w: shift %d leaves no bit of a %d-bit value", ErrRange, s, w)
	}
	fw := w - s
	if info.kind == kindSigned && v.Mask == nil {
		limit := uint64(1) << (fw - 1) // magnitude of the most negative value
		if neg && mag > limit || !neg && mag > limit-1 {
			return 0, 0, fmt.Errorf("%w: %s is outside %d..%d", ErrRange,
				signedString(neg, mag), -int64(limit-1)-1, limit-1)
		}
		u := mag
		if neg {
			u = -mag
		}
		return (u & lowMask(fw)) << s, lowMask(fw) << s, nil
	}
	eff := lowMask(fw)
	if v.Mask != nil {
		eff &= *v.Mask
	}
	if neg && mag != 0 {
		return 0, 0, fmt.Errorf("%w: %s is negative and %s holds no sign", ErrRange, signedString(neg, mag), fieldName(v))
	}
	if mag&^eff != 0 {
		return 0, 0, fmt.Errorf("%w: %d does not fit %s (bits 0x%X)", ErrRange, mag, fieldName(v), eff)
	}
	return mag << s, eff << s, nil
}

// fieldName names what a value must fit, for error messages.
func fieldName(v *settings.Variable) string {
	if v.Shift == 0 && v.Mask == nil {
		return v.Datatype
	}
	return "the shifted and masked field of " + v.Datatype
}

// signedString formats a sign and magnitude as a decimal integer.
func signedString(neg bool, mag uint64) string {
	if neg {
		return "-" + strconv.FormatUint(mag, 10)
	}
	return strconv.FormatUint(mag, 10)
}

// fromBCD decodes packed BCD, least significant digit in the low nibble.
func fromBCD(u uint64) (uint64, error) {
	var n, scale uint64 = 0, 1
	for digit := 0; u != 0; digit++ {
		d := u & 0xF
		if d > 9 {
			return 0, fmt.Errorf("%w: nibble 0x%X at digit %d (0 = least significant)", ErrBCD, d, digit)
		}
		n += d * scale
		scale *= 10
		u >>= 4
	}
	return n, nil
}

// toBCD packs n as BCD; ok is false beyond 16 digits.
func toBCD(n uint64) (u uint64, ok bool) {
	if n > 9999999999999999 {
		return 0, false
	}
	for shift := 0; n != 0; shift += 4 {
		u |= (n % 10) << shift
		n /= 10
	}
	return u, true
}
