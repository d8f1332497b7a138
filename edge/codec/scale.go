package codec

import "github.com/gridedge/gridedge/edge/settings"

// integralTolerance is how far (relative, with an absolute floor near zero)
// a reversed value may be from an integer and still be rounded to it.
const integralTolerance = 1e-9

// plainScale reports whether the variable has factor 1 and no offset, so that
// exact 64-bit integers can pass through.
func plainScale(v *settings.Variable) bool {
	return (v.Factor == nil || *v.Factor == 1) && (v.Offset == nil || *v.Offset == 0)
}

// scaleValue applies factor, offset and translation.
func scaleValue(v *settings.Variable, f float64) any {
	if v.Factor != nil {
		f *= *v.Factor
	}
	if v.Offset != nil {
		f += *v.Offset
	}
	if len(v.Translation) > 0 {
		if label, ok := lookupLabel(v.Translation, f); ok {
			return label
		}
	}
	return f
}

// unscale reverses offset and factor.
func unscale(v *settings.Variable, f float64) float64 {
	if v.Offset != nil {
		f -= *v.Offset
	}
	if v.Factor != nil {
		f /= *v.Factor
	}
	return f
}
