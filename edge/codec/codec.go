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

// isRegisterTable reports whether t is a table of 16-bit registers (holding, input).
func isRegisterTable(t string) bool { return t == settings.TypeHolding || t == settings.TypeInput }

// isBitTable reports whether t is a table of single bits (coil, discrete).
func isBitTable(t string) bool { return t == settings.TypeCoil || t == settings.TypeDiscrete }
