// Package codec converts between the raw Modbus registers (or coils) of an
// X-FLEX SETTINGS variable and its engineering value: Decode and DecodeBits
// for reads, Encode, EncodeMasked, EncodeBit and EncodeBits for writes, per
// the variable's table, datatype, byte order, shift, mask, factor, offset
// and translation. It does no I/O: the poller, the MQTT writer, the CLI and
// the simulator call it with registers they read or are about to write.
package codec

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
)

// Errors returned by Decode, DecodeBits, Encode, EncodeMasked, EncodeBit and
// EncodeBits, wrapped with the variable's name and the offending values.
var (
	// ErrRegisterCount means the registers (or bits) given do not match the
	// variable's size.
	ErrRegisterCount = errors.New("wrong number of registers")
	// ErrDatatype means the datatype is unknown, or does not apply to the
	// variable's table or to the operation.
	ErrDatatype = errors.New("unsupported datatype")
	// ErrOrder means the byte order is not ABCD, CDAB, BADC or DCBA.
	ErrOrder = errors.New("unknown byte order")
	// ErrBCD means a BCD nibble is not a decimal digit.
	ErrBCD = errors.New("invalid BCD digit")
	// ErrRange means a value cannot be represented by the variable's
	// datatype (and shift and mask).
	ErrRange = errors.New("value out of range")
	// ErrNotIntegral means a value for an integer type is not an integer
	// once offset and factor are reversed.
	ErrNotIntegral = errors.New("value is not an integer")
	// ErrUnknownLabel means a string value is neither a translation label
	// of the variable nor a number.
	ErrUnknownLabel = errors.New("unknown translation label")
	// ErrValueType means a value of that Go type cannot be written to the
	// variable.
	ErrValueType = errors.New("wrong value type")
	// ErrReadModifyWrite means the variable covers only part of its
	// registers (8-bit types, bit addresses, shift or mask): use
	// EncodeMasked and Merge with the current registers.
	ErrReadModifyWrite = errors.New("variable needs a read-modify-write")
)

// maxExactInt is 2^53: every integer of this magnitude or less is exact in a float64.
const maxExactInt = 1 << 53

// integralTolerance is how far (relative, with an absolute floor near zero)
// a reversed value may be from an integer and still be rounded to it.
const integralTolerance = 1e-9

// Decode turns the raw registers of one variable into its engineering value.
// regs holds exactly SpanOf(v) registers starting at v.Address.Register:
// v.RegisterCount() registers, or the one register of a bit address.
// slaveOrder is the slave's default order ("" = ABCD); v.Order overrides it.
// The result is a float64, a bool (bool datatype, bit address), a string,
// a []bool (bits), a translation label, nil (ignore) or, for 64-bit
// integers beyond ±2^53, an int64 or uint64.
//
// Decoding follows the seed's order (section 3.3.5.2): raw value from the
// registers per datatype and byte order → shift → mask → factor → offset →
// translation. The rules that the seed leaves open are fixed here:
//
// Byte order. A value of n registers is a sequence of 2n bytes, A the most
// significant. ABCD (the default) lays them out big-endian in address order.
// CDAB reverses the order of the registers (least significant register
// first: for 64-bit values GH EF CD AB), BADC swaps the two bytes of every
// register, DCBA does both (fully little-endian). For one-register values
// CDAB is the same as ABCD and DCBA the same as BADC: the two bytes swap.
// Strings are registers in address order, two characters each, high byte
// first; BADC and DCBA swap the characters of each register.
//
// 8-bit types (8int, 8uint) are the low byte of the register after the byte
// order is applied: the low byte for ABCD/CDAB, the high byte for BADC/DCBA.
// Use 16uint with shift 8 and mask 255 to read the high byte in ABCD order.
//
// bits in a holding or input register is the register (after shift and
// mask) as 16 booleans, least significant bit first, so element i is bit i
// and matches the address syntax "12.i" and the way Modbus packs coils. In
// a coil or discrete table, bits with datasize n is n booleans in address
// order. An address with a bit ("12.3") decodes as a bool whatever the
// datatype; the byte order does not apply to it.
//
// Shift is a right shift of the integer raw value: arithmetic for signed
// types without a mask. A mask makes the result an unsigned bit field (bits
// shifted in from above the datatype's width are zero). For BCD, shift and
// mask select bits of the registers and the digits are decoded after them.
// Shift and mask do not apply to floats and strings.
//
// Numbers are float64, so JSON output is uniform. The one exception is a
// 64-bit integer (64int, 64uint) whose magnitude exceeds 2^53, the largest
// range in which float64 holds every integer: with factor 1 and no offset it
// is returned as int64 (64int without mask) or uint64 rather than silently
// rounded, and no translation is looked up for it.
//
// Floats come out as the device sent them: NaN and ±Inf included (the
// bad-data rules decide what to do with them).
//
// Translation compares the scaled value with each table entry exactly and
// then with a relative tolerance of 1e-9 (so 3 × factor 0.1 finds 0.3). A
// value not in the table is returned untranslated, with no error, as the
// original plugin did. bool values and bit addresses are looked up as 0 and 1.
//
// ignore variables decode to nil: the caller does not report them.
func Decode(v *settings.Variable, slaveOrder string, regs []uint16) (any, error) {
	val, err := decodeRegisters(v, slaveOrder, regs)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", v.Name, err)
	}
	return val, nil
}

// DecodeBits does what Decode does for variables of the coil and discrete
// tables; bits holds exactly v.RegisterCount() bits. bits variables decode
// to a []bool of that length, ignore variables to nil, all others to the
// bool of their one bit (or its translation label, looked up as 0 or 1).
// Shift, mask, factor and offset do not apply to bits.
func DecodeBits(v *settings.Variable, bits []bool) (any, error) {
	val, err := decodeBits(v, bits)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", v.Name, err)
	}
	return val, nil
}

// Encode is the inverse of Decode, for writes: it turns value into the
// registers to write, reversing translation, offset and factor. value may
// be a float64 (as from JSON), any Go integer type, a float32, a bool (1 or
// 0), a json.Number, a translation label, or a numeric string; strings are
// written to string variables and []bool (or []any of booleans) to bits.
//
// Encode refuses, with the errors above, what the datatype cannot hold:
// out-of-range numbers (including finite numbers that overflow a float),
// integer types whose value is not an integer after reversing the factor
// (it rounds only when within 1e-9 relative), unknown labels, strings
// longer than the variable. It checks representation only: Writable, Min
// and Max are the caller's policy.
//
// A variable that covers only part of its registers (8-bit types, bit
// addresses, shift, or a mask) cannot be written blind: Encode returns
// ErrReadModifyWrite for it; use EncodeMasked.
func Encode(v *settings.Variable, slaveOrder string, value any) (regs []uint16, err error) {
	regs, mask, err := EncodeMasked(v, slaveOrder, value)
	if err != nil {
		return nil, err
	}
	for i, m := range mask {
		if m != 0xFFFF {
			return nil, fmt.Errorf("encode %s: %w (register %d, bits 0x%04x)",
				v.Name, ErrReadModifyWrite, int(v.Address.Register)+i, m)
		}
	}
	return regs, nil
}

// EncodeMasked is Encode for every variable, including those that cover
// only part of their registers: mask[i] has a 1 for each bit of regs[i]
// that value sets, and the other bits must keep the device's current value.
// Merge combines the result with the registers just read; a device that
// supports function 22 (mask write register) can take AND mask ^mask[i]
// and OR mask regs[i] instead. When every mask is 0xFFFF the write needs no read.
func EncodeMasked(v *settings.Variable, slaveOrder string, value any) (regs, mask []uint16, err error) {
	regs, mask, err = encodeRegisters(v, slaveOrder, value)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", v.Name, err)
	}
	return regs, mask, nil
}

// Merge returns current with the bits selected by mask replaced by those
// of regs: the registers to write for a read-modify-write. The three slices
// have the same length (Merge panics otherwise).
func Merge(current, regs, mask []uint16) []uint16 {
	if len(current) != len(regs) || len(regs) != len(mask) {
		panic(fmt.Sprintf("codec.Merge: lengths %d, %d, %d differ", len(current), len(regs), len(mask)))
	}
	out := make([]uint16, len(current))
	for i := range current {
		out[i] = current[i]&^mask[i] | regs[i]&mask[i]
	}
	return out
}

// EncodeBit turns value into the state of a coil, for a coil or discrete
// variable of one bit. Accepted forms: a translation label of the variable
// (its raw value 0 is false, anything else true); a bool; the numbers 0 and
// 1 of any Go numeric type; the strings (case-insensitive, spaces trimmed)
// "1", "true", "on", "yes", "high" and "0", "false", "off", "no", "low"; a
// one-element []bool or []any (what DecodeBits returns for bits of size 1).
func EncodeBit(v *settings.Variable, value any) (bool, error) {
	b, err := encodeBit(v, value)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", v.Name, err)
	}
	return b, nil
}

// EncodeBits turns value into the v.RegisterCount() coil states of a coil
// or discrete variable: for bits variables a []bool or []any of exactly
// that many booleans (each in a form EncodeBit accepts, without
// translation), for the others the one-element result of EncodeBit.
func EncodeBits(v *settings.Variable, value any) ([]bool, error) {
	out, err := encodeBits(v, value)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", v.Name, err)
	}
	return out, nil
}

// SpanOf returns how many registers (or bits, for coil and discrete
// variables) a request must read for v: v.RegisterCount(), except 1 for a
// bit address, and at least 1.
func SpanOf(v *settings.Variable) int {
	if v.Address.HasBit && isRegisterTable(v.Type) {
		return 1
	}
	return max(v.RegisterCount(), 1)
}

func isRegisterTable(t string) bool { return t == settings.TypeHolding || t == settings.TypeInput }

func isBitTable(t string) bool { return t == settings.TypeCoil || t == settings.TypeDiscrete }

// dtKind is the family of a datatype.
type dtKind uint8

const (
	kindSigned dtKind = iota
	kindUnsigned
	kindFloat
	kindBCD
	kindBool
	kindBits
	kindString
	kindIgnore
)

// dtInfo describes a datatype: its family and its width in bits.
type dtInfo struct {
	kind  dtKind
	width uint
}

func datatypeInfo(dt string) (dtInfo, bool) {
	switch dt {
	case settings.Datatype8Int:
		return dtInfo{kindSigned, 8}, true
	case settings.Datatype8Uint:
		return dtInfo{kindUnsigned, 8}, true
	case settings.Datatype16Int:
		return dtInfo{kindSigned, 16}, true
	case settings.Datatype16Uint:
		return dtInfo{kindUnsigned, 16}, true
	case settings.Datatype32Int:
		return dtInfo{kindSigned, 32}, true
	case settings.Datatype32Uint:
		return dtInfo{kindUnsigned, 32}, true
	case settings.Datatype48Int:
		return dtInfo{kindSigned, 48}, true
	case settings.Datatype48Uint:
		return dtInfo{kindUnsigned, 48}, true
	case settings.Datatype64Int:
		return dtInfo{kindSigned, 64}, true
	case settings.Datatype64Uint:
		return dtInfo{kindUnsigned, 64}, true
	case settings.Datatype16Float:
		return dtInfo{kindFloat, 16}, true
	case settings.Datatype32Float:
		return dtInfo{kindFloat, 32}, true
	case settings.Datatype64Float:
		return dtInfo{kindFloat, 64}, true
	case settings.Datatype16BCD:
		return dtInfo{kindBCD, 16}, true
	case settings.Datatype32BCD:
		return dtInfo{kindBCD, 32}, true
	case settings.DatatypeBool:
		return dtInfo{kindBool, 16}, true
	case settings.DatatypeBits:
		return dtInfo{kindBits, 16}, true
	case settings.DatatypeString:
		return dtInfo{kindString, 0}, true
	case settings.DatatypeIgnore:
		return dtInfo{kindIgnore, 0}, true
	}
	return dtInfo{}, false
}

// byteOrder is a resolved ABCD/CDAB/BADC/DCBA order.
type byteOrder struct {
	wordSwap bool // registers in reverse order (CDAB, DCBA)
	byteSwap bool // bytes swapped within each register (BADC, DCBA)
}

func resolveOrder(varOrder, slaveOrder string) (byteOrder, error) {
	o := varOrder
	if o == "" {
		o = slaveOrder
	}
	switch o {
	case "", "ABCD":
		return byteOrder{}, nil
	case "CDAB":
		return byteOrder{wordSwap: true}, nil
	case "BADC":
		return byteOrder{byteSwap: true}, nil
	case "DCBA":
		return byteOrder{wordSwap: true, byteSwap: true}, nil
	}
	return byteOrder{}, fmt.Errorf("%w %q (want ABCD, CDAB, BADC or DCBA)", ErrOrder, o)
}

// assemble returns the value of up to 4 registers, most significant byte first.
func (o byteOrder) assemble(regs []uint16) uint64 {
	var u uint64
	n := len(regs)
	for i := range n {
		r := regs[i]
		if o.wordSwap {
			r = regs[n-1-i]
		}
		if o.byteSwap {
			r = bits.ReverseBytes16(r)
		}
		u = u<<16 | uint64(r)
	}
	return u
}

// disassemble is the inverse of assemble: it lays u out over regs.
func (o byteOrder) disassemble(u uint64, regs []uint16) {
	n := len(regs)
	for i := n - 1; i >= 0; i-- {
		r := uint16(u)
		u >>= 16
		if o.byteSwap {
			r = bits.ReverseBytes16(r)
		}
		if o.wordSwap {
			regs[n-1-i] = r
		} else {
			regs[i] = r
		}
	}
}

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

func signExtend(u uint64, width uint) int64 {
	s := 64 - width
	return int64(u<<s) >> s
}

// plainScale reports whether the variable has factor 1 and no offset, so that
// exact 64-bit integers can pass through.
func plainScale(v *settings.Variable) bool {
	return (v.Factor == nil || *v.Factor == 1) && (v.Offset == nil || *v.Offset == 0)
}

func fromUint(v *settings.Variable, n uint64, wide bool) any {
	if wide && n > maxExactInt && plainScale(v) {
		return n
	}
	return scaleValue(v, float64(n))
}

func fromInt(v *settings.Variable, i int64, wide bool) any {
	if wide && (i > maxExactInt || i < -maxExactInt) && plainScale(v) {
		return i
	}
	return scaleValue(v, float64(i))
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

func lookupLabel(t settings.Translation, f float64) (any, bool) {
	if label, ok := t.Lookup(f); ok {
		return label, true
	}
	for _, p := range t {
		if math.Abs(p.Raw-f) <= integralTolerance*max(math.Abs(p.Raw), math.Abs(f)) {
			return p.Label, true
		}
	}
	return nil, false
}

func translateBool(v *settings.Variable, b bool) any {
	if len(v.Translation) > 0 {
		raw := 0.0
		if b {
			raw = 1
		}
		if label, ok := v.Translation.Lookup(raw); ok {
			return label
		}
	}
	return b
}

// decodeString reads two ISO-8859-1 characters per register (ASCII is a
// subset, and every byte maps to one rune, so any register image has a
// string Encode can write back), cut at the first NUL, trailing spaces
// trimmed.
func decodeString(regs []uint16, swap bool) string {
	var buf [250]byte
	b := buf[:0]
	for _, r := range regs {
		if swap {
			r = bits.ReverseBytes16(r)
		}
		b = append(b, byte(r>>8), byte(r))
	}
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	for _, c := range b {
		if c >= 0x80 {
			rs := make([]rune, len(b))
			for i, c := range b {
				rs[i] = rune(c)
			}
			return string(rs)
		}
	}
	return string(b)
}

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

// inNumber is a value to encode: always as a float64, and exactly when it
// came as an integer (a Go integer type or an integer string).
type inNumber struct {
	f     float64
	exact bool
	neg   bool   // exact only
	mag   uint64 // exact only: the magnitude
}

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

func labelList(t settings.Translation) string {
	var b strings.Builder
	for i, p := range t {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, p.Label)
	}
	return b.String()
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

func fieldName(v *settings.Variable) string {
	if v.Shift == 0 && v.Mask == nil {
		return v.Datatype
	}
	return "the shifted and masked field of " + v.Datatype
}

func signedString(neg bool, mag uint64) string {
	if neg {
		return "-" + strconv.FormatUint(mag, 10)
	}
	return strconv.FormatUint(mag, 10)
}

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

func encodeString(value any, swap bool, regs, mask []uint16) error {
	s, ok := value.(string)
	if !ok {
		return fmt.Errorf("%w: %T for a string variable", ErrValueType, value)
	}
	b := make([]byte, 0, 2*len(regs))
	for _, r := range s {
		switch {
		case r == 0:
			return fmt.Errorf("%w: %q holds a NUL character", ErrValueType, s)
		case r > 0xFF:
			return fmt.Errorf("%w: %q has %q, outside ISO-8859-1", ErrRange, s, r)
		}
		b = append(b, byte(r))
	}
	if len(b) > 2*len(regs) {
		return fmt.Errorf("%w: %q is %d characters, the variable holds %d", ErrRange, s, len(b), 2*len(regs))
	}
	for i := range regs {
		var r uint16
		if 2*i < len(b) {
			r = uint16(b[2*i]) << 8
		}
		if 2*i+1 < len(b) {
			r |= uint16(b[2*i+1])
		}
		if swap {
			r = bits.ReverseBytes16(r)
		}
		regs[i], mask[i] = r, 0xFFFF
	}
	return nil
}

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
