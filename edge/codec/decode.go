package codec

import (
	"fmt"
	"math"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
)

// decodeRegisters is Decode without the variable's name in its errors.
func decodeRegisters(v *settings.Variable, slaveOrder string, regs []uint16) (any, error) {
	if !isRegisterTable(v.Type) {
		if isBitTable(v.Type) {
			return nil, fmt.Errorf("%w: %s variables are decoded with DecodeBits", ErrDatatype, v.Type)
		}
		return nil, fmt.Errorf("%w: unknown table %q", ErrDatatype, v.Type)
	}
	if want := SpanOf(v); len(regs) != want {
		return nil, fmt.Errorf("%w: got %d, want %d", ErrRegisterCount, len(regs), want)
	}
	if v.Datatype == settings.DatatypeIgnore {
		return nil, nil
	}
	if v.Address.HasBit {
		return translateBool(v, regs[0]>>v.Address.Bit&1 != 0), nil
	}
	info, ok := datatypeInfo(v.Datatype)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrDatatype, v.Datatype)
	}
	ord, err := resolveOrder(v.Order, slaveOrder)
	if err != nil {
		return nil, err
	}
	if info.kind == kindString {
		return decodeString(regs, ord.byteSwap), nil
	}
	u := ord.assemble(regs)
	switch info.kind {
	case kindFloat:
		var f float64
		switch info.width {
		case 16:
			f = halfToFloat(uint16(u))
		case 32:
			f = shortestFloat32(math.Float32frombits(uint32(u)))
		default:
			f = math.Float64frombits(u)
		}
		return scaleValue(v, f), nil
	case kindBool:
		return translateBool(v, unsignedField(v, u) != 0), nil
	case kindBits:
		field := unsignedField(v, u)
		out := make([]bool, 16)
		for i := range out {
			out[i] = field>>uint(i)&1 != 0
		}
		return out, nil
	case kindBCD:
		n, err := fromBCD(unsignedField(v, u))
		if err != nil {
			return nil, fmt.Errorf("%w (registers %s)", err, hexRegs(regs))
		}
		return fromUint(v, n, false), nil
	}
	if info.width == 8 {
		u &= 0xFF
	}
	wide := info.width == 64
	if info.kind == kindUnsigned || v.Mask != nil {
		return fromUint(v, unsignedField(v, u), wide), nil
	}
	i := signExtend(u, info.width) >> min(v.Shift, 63)
	return fromInt(v, i, wide), nil
}

// hexRegs formats registers for error messages: "0x0012 0xFFFE".
func hexRegs(regs []uint16) string {
	var b strings.Builder
	for i, r := range regs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "0x%04X", r)
	}
	return b.String()
}
