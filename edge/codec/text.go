package codec

import (
	"fmt"
	"math/bits"
)

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

// encodeString writes s as ISO-8859-1, two characters a register (high byte
// first, swapped with swap), padded with NULs; a string fills every register.
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
