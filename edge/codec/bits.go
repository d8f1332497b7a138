package codec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
)

// decodeBits is DecodeBits without the variable's name in its errors.
func decodeBits(v *settings.Variable, bs []bool) (any, error) {
	if !isBitTable(v.Type) {
		if isRegisterTable(v.Type) {
			return nil, fmt.Errorf("%w: %s variables are decoded with Decode", ErrDatatype, v.Type)
		}
		return nil, fmt.Errorf("%w: unknown table %q", ErrDatatype, v.Type)
	}
	if want := SpanOf(v); len(bs) != want {
		return nil, fmt.Errorf("%w: got %d bits, want %d", ErrRegisterCount, len(bs), want)
	}
	switch v.Datatype {
	case settings.DatatypeIgnore:
		return nil, nil
	case settings.DatatypeBits:
		if v.Datasize > 1 {
			return append([]bool(nil), bs...), nil
		}
		// a single coil or discrete input reads as a plain bool
	case settings.DatatypeString:
		return nil, fmt.Errorf("%w: string does not apply to %s", ErrDatatype, v.Type)
	}
	if _, ok := datatypeInfo(v.Datatype); !ok {
		return nil, fmt.Errorf("%w %q", ErrDatatype, v.Datatype)
	}
	return translateBool(v, bs[0]), nil
}

// errNotBits tells encodeRegisters that a bits value is not an array, so it
// is encoded as the integer value of the register instead.
var errNotBits = errors.New("not a bool array")

// bitsField turns []bool or []any of booleans (LSB first) into a 16-bit value.
func bitsField(value any) (uint64, error) {
	var bs []bool
	switch x := value.(type) {
	case []bool:
		bs = x
	case []any:
		bs = make([]bool, len(x))
		for i, e := range x {
			b, err := plainBool(e)
			if err != nil {
				return 0, fmt.Errorf("element %d: %w", i, err)
			}
			bs[i] = b
		}
	default:
		return 0, errNotBits
	}
	if len(bs) > 16 {
		return 0, fmt.Errorf("%w: %d booleans for a 16-bit register", ErrRange, len(bs))
	}
	var u uint64
	for i, b := range bs {
		if b {
			u |= 1 << uint(i)
		}
	}
	return u, nil
}

// plainBool accepts the forms EncodeBit documents, without translation.
func plainBool(value any) (bool, error) {
	switch x := value.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "true", "on", "yes", "high":
			return true, nil
		case "0", "false", "off", "no", "low":
			return false, nil
		}
		return false, fmt.Errorf("%w: %q is not a boolean (true/false, on/off, 1/0, yes/no, high/low)", ErrValueType, x)
	}
	n, err := toNumber(&settings.Variable{}, value)
	if err != nil {
		return false, fmt.Errorf("%w: %T is not a boolean", ErrValueType, value)
	}
	switch n.f {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("%w: %v is not 0 or 1", ErrRange, n.f)
}

// toBool is plainBool after reversing the translation; with wrap, a
// one-element array is accepted too.
func toBool(v *settings.Variable, value any, wrap bool) (bool, error) {
	if len(v.Translation) > 0 {
		if raw, ok := v.Translation.Reverse(value); ok {
			return raw != 0, nil
		}
	}
	if wrap {
		switch x := value.(type) {
		case []bool:
			if len(x) == 1 {
				return x[0], nil
			}
			return false, fmt.Errorf("%w: %d booleans for one bit", ErrRange, len(x))
		case []any:
			if len(x) == 1 {
				return plainBool(x[0])
			}
			return false, fmt.Errorf("%w: %d booleans for one bit", ErrRange, len(x))
		}
	}
	b, err := plainBool(value)
	if err != nil && len(v.Translation) > 0 {
		if _, isString := value.(string); isString {
			return false, fmt.Errorf("%w %q (labels: %s)", ErrUnknownLabel, value, labelList(v.Translation))
		}
	}
	return b, err
}

// encodeBit is EncodeBit without the variable's name in its errors.
func encodeBit(v *settings.Variable, value any) (bool, error) {
	if !isBitTable(v.Type) {
		return false, fmt.Errorf("%w: %s variables are encoded with Encode", ErrDatatype, v.Type)
	}
	switch v.Datatype {
	case settings.DatatypeIgnore, settings.DatatypeString:
		return false, fmt.Errorf("%w: %s variables cannot be written", ErrDatatype, v.Datatype)
	}
	if n := SpanOf(v); n != 1 {
		return false, fmt.Errorf("%w: the variable has %d bits, use EncodeBits", ErrDatatype, n)
	}
	return toBool(v, value, true)
}

// encodeBits is EncodeBits without the variable's name in its errors.
func encodeBits(v *settings.Variable, value any) ([]bool, error) {
	if !isBitTable(v.Type) {
		return nil, fmt.Errorf("%w: %s variables are encoded with Encode", ErrDatatype, v.Type)
	}
	n := SpanOf(v)
	if v.Datatype != settings.DatatypeBits || n == 1 {
		if n != 1 {
			return nil, fmt.Errorf("%w: %s variables cannot be written", ErrDatatype, v.Datatype)
		}
		b, err := encodeBit(v, value)
		if err != nil {
			return nil, err
		}
		return []bool{b}, nil
	}
	var out []bool
	switch x := value.(type) {
	case []bool:
		out = append(out, x...)
	case []any:
		for i, e := range x {
			b, err := plainBool(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, b)
		}
	default:
		return nil, fmt.Errorf("%w: %T for %d bits (want []bool)", ErrValueType, value, n)
	}
	if len(out) != n {
		return nil, fmt.Errorf("%w: %d booleans for %d bits", ErrRange, len(out), n)
	}
	return out, nil
}
