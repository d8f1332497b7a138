package codec

import (
	"fmt"
	"math/bits"
)

// byteOrder is a resolved ABCD/CDAB/BADC/DCBA order.
type byteOrder struct {
	wordSwap bool // registers in reverse order (CDAB, DCBA)
	byteSwap bool // bytes swapped within each register (BADC, DCBA)
}

// resolveOrder returns the variable's order, or the slave's when the
// variable has none (ABCD when neither has one).
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
