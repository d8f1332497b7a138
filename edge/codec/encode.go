package codec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
)

// encodeRegisters is EncodeMasked without the variable's name in its errors.
func encodeRegisters(v *settings.Variable, slaveOrder string, value any) (regs, mask []uint16, err error) {
	if !isRegisterTable(v.Type) {
		if isBitTable(v.Type) {
			return nil, nil, fmt.Errorf("%w: %s variables are encoded with EncodeBit", ErrDatatype, v.Type)
		}
		return nil, nil, fmt.Errorf("%w: unknown table %q", ErrDatatype, v.Type)
	}
	info, ok := datatypeInfo(v.Datatype)
	if !ok {
		return nil, nil, fmt.Errorf("%w %q", ErrDatatype, v.Datatype)
	}
	if info.kind == kindIgnore {
		return nil, nil, fmt.Errorf("%w: ignore variables cannot be written", ErrDatatype)
	}
	n := SpanOf(v)
	regs, mask = make([]uint16, n), make([]uint16, n)
	if v.Address.HasBit {
		b, err := toBool(v, value, true)
		if err != nil {
			return nil, nil, err
		}
		bit := uint16(1) << v.Address.Bit
		if b {
			regs[0] = bit
		}
		mask[0] = bit
		return regs, mask, nil
	}
	ord, err := resolveOrder(v.Order, slaveOrder)
	if err != nil {
		return nil, nil, err
	}
	switch info.kind {
	case kindString:
		return regs, mask, encodeString(value, ord.byteSwap, regs, mask)
	case kindFloat:
		return regs, mask, encodeFloat(v, info.width, ord, value, regs, mask)
	}

	// Integer families: compute the field value, then place it.
	var fieldNeg bool
	var field uint64
	switch info.kind {
	case kindBool:
		b, err := toBool(v, value, true)
		if err != nil {
			return nil, nil, err
		}
		if b {
			field = 1
			if v.Mask != nil {
				field = *v.Mask & lowMask(info.width-min(v.Shift, info.width))
				if field == 0 {
					return nil, nil, fmt.Errorf("%w: mask 0x%X with shift %d leaves no bit to set", ErrRange, *v.Mask, v.Shift)
				}
			}
		}
	case kindBits:
		if field, err = bitsField(value); err != nil {
			if !errors.Is(err, errNotBits) {
				return nil, nil, err
			}
			if fieldNeg, field, err = toInteger(v, value); err != nil {
				return nil, nil, err
			}
		}
	case kindBCD:
		neg, mag, err := toInteger(v, value)
		if err != nil {
			return nil, nil, err
		}
		if neg && mag != 0 {
			return nil, nil, fmt.Errorf("%w: BCD cannot hold the negative value %v", ErrRange, value)
		}
		var ok bool
		if field, ok = toBCD(mag); !ok {
			return nil, nil, fmt.Errorf("%w: %d has more than 16 digits", ErrRange, mag)
		}
	default:
		if fieldNeg, field, err = toInteger(v, value); err != nil {
			return nil, nil, err
		}
	}
	pattern, wmask, err := placeField(v, info, fieldNeg, field)
	if err != nil {
		return nil, nil, err
	}
	if info.width == 8 {
		// The byte is the low byte of the order-adjusted register.
		pattern &= 0xFF
		wmask &= 0xFF
	}
	ord.disassemble(pattern, regs)
	ord.disassemble(wmask, mask)
	return regs, mask, nil
}

// inNumber is a value to encode: always as a float64, and exactly when it
// came as an integer (a Go integer type or an integer string).
type inNumber struct {
	f     float64
	exact bool
	neg   bool   // exact only
	mag   uint64 // exact only: the magnitude
}

// floatNumber, intNumber and uintNumber make an inNumber of a Go value.
func floatNumber(f float64) inNumber { return inNumber{f: f} }

func intNumber(i int64) inNumber {
	if i < 0 {
		return inNumber{f: float64(i), exact: true, neg: true, mag: uint64(-(i + 1)) + 1}
	}
	return inNumber{f: float64(i), exact: true, mag: uint64(i)}
}

func uintNumber(u uint64) inNumber { return inNumber{f: float64(u), exact: true, mag: u} }

// parseNumber accepts integers exactly and any other float syntax.
func parseNumber(s string) (inNumber, bool) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return intNumber(i), true
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return uintNumber(u), true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return floatNumber(f), true
	}
	return inNumber{}, false
}

// toNumber turns a value given for a numeric variable into a number,
// reversing the translation first.
func toNumber(v *settings.Variable, value any) (inNumber, error) {
	if len(v.Translation) > 0 {
		if raw, ok := v.Translation.Reverse(value); ok {
			return floatNumber(raw), nil
		}
	}
	switch x := value.(type) {
	case float64:
		return floatNumber(x), nil
	case float32:
		return floatNumber(float64(x)), nil
	case int:
		return intNumber(int64(x)), nil
	case int8:
		return intNumber(int64(x)), nil
	case int16:
		return intNumber(int64(x)), nil
	case int32:
		return intNumber(int64(x)), nil
	case int64:
		return intNumber(x), nil
	case uint:
		return uintNumber(uint64(x)), nil
	case uint8:
		return uintNumber(uint64(x)), nil
	case uint16:
		return uintNumber(uint64(x)), nil
	case uint32:
		return uintNumber(uint64(x)), nil
	case uint64:
		return uintNumber(x), nil
	case bool:
		if x {
			return intNumber(1), nil
		}
		return intNumber(0), nil
	case interface{ String() string }: // json.Number and the like
		if n, ok := parseNumber(x.String()); ok {
			return n, nil
		}
		return inNumber{}, fmt.Errorf("%w: %q is not a number", ErrValueType, x.String())
	case string:
		if n, ok := parseNumber(x); ok {
			return n, nil
		}
		if len(v.Translation) > 0 {
			return inNumber{}, fmt.Errorf("%w %q (labels: %s)", ErrUnknownLabel, x, labelList(v.Translation))
		}
		return inNumber{}, fmt.Errorf("%w: %q is not a number", ErrValueType, x)
	}
	return inNumber{}, fmt.Errorf("%w: %T is not a number", ErrValueType, value)
}
