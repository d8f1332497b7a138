package codec

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

// roundTripCase is one random variable definition for the property test.
type roundTripCase struct {
	v     settings.Variable
	slave string
}

// randomVariable draws a holding variable of datatype dt with a random
// order and, where Encode can invert them exactly, random shift, mask,
// factor, offset and translation.
func randomVariable(r *rand.Rand, dt string) roundTripCase {
	info, _ := datatypeInfo(dt)
	v := settings.Variable{Name: dt, Type: settings.TypeHolding, Datatype: dt}
	c := roundTripCase{slave: settings.Orders[r.IntN(4)]}
	if r.IntN(2) == 0 {
		v.Order = settings.Orders[r.IntN(4)]
	}
	switch info.kind {
	case kindString, kindIgnore:
		v.Datasize = 1 + r.IntN(8)
	case kindFloat:
		// Scaling by powers of two (and -1) is exact in float64, so the
		// registers come back bit for bit; 64float only takes -1.
		if r.IntN(2) == 0 {
			fs := []float64{2, 0.5, -1, 0.25}
			if info.width == 64 {
				fs = []float64{-1}
			}
			v.Factor = f64p(fs[r.IntN(len(fs))])
		}
	case kindSigned, kindUnsigned, kindBCD, kindBool, kindBits:
		if r.IntN(3) == 0 {
			v.Shift = uint(r.IntN(int(info.width)))
		}
		if r.IntN(3) == 0 {
			v.Mask = u64p(r.Uint64() >> uint(r.IntN(64)))
		}
		if info.width <= 48 && info.kind != kindBool && info.kind != kindBits && r.IntN(2) == 0 {
			fs := []float64{0.1, 0.01, 10, 2.5, -1, 1e-3, 1}
			v.Factor = f64p(fs[r.IntN(len(fs))])
			if r.IntN(2) == 0 {
				v.Offset = f64p([]float64{-40, 273.15, 0.5}[r.IntN(3)])
			}
		}
	}
	if (info.kind == kindSigned || info.kind == kindUnsigned) && r.IntN(4) == 0 {
		v.Translation = settings.Translation{{Raw: 0, Label: "ZERO"}, {Raw: 1, Label: "ONE"}, {Raw: 2, Label: "TWO"}}
	}
	if r.IntN(8) == 0 {
		v.Address = settings.Address{Bit: uint8(r.IntN(16)), HasBit: true}
	}
	c.v = v
	return c
}

// TestEncodeDecodeRoundTrip checks, over random register images of every
// datatype and order, that writing back what was read reproduces it:
// Decode(Merge(regs, EncodeMasked(Decode(regs)))) == Decode(regs), and for
// every datatype where decoding loses nothing the merged registers equal
// the original ones bit for bit.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	datatypes := []string{"8int", "8uint", "16int", "16uint", "32int", "32uint", "48int", "48uint",
		"64int", "64uint", "16float", "32float", "64float", "16bcd", "32bcd", "bool", "bits", "string"}
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	for _, dt := range datatypes {
		t.Run(dt, func(t *testing.T) {
			checked := 0
			for range iterations {
				c := randomVariable(r, dt)
				v := &c.v
				regs := make([]uint16, SpanOf(v))
				for i := range regs {
					regs[i] = uint16(r.Uint32())
					if dt == "16bcd" || dt == "32bcd" {
						regs[i] = randomBCD(r)
					}
				}
				if r.IntN(8) == 0 { // favour edge patterns
					for i := range regs {
						regs[i] = []uint16{0, 0xFFFF, 0x8000, 0x7FFF}[r.IntN(4)]
					}
				}
				val, err := Decode(v, c.slave, regs)
				if err != nil {
					if errors.Is(err, ErrBCD) {
						continue
					}
					t.Fatalf("%s: Decode(%s): %v", describe(v), hexRegs(regs), err)
				}
				enc, mask, err := EncodeMasked(v, c.slave, val)
				if err != nil {
					if v.Shift >= widthOf(v) {
						continue // nothing left to write
					}
					t.Fatalf("%s slave %s: EncodeMasked(Decode(%s) = %#v): %v", describe(v), c.slave, hexRegs(regs), val, err)
				}
				merged := Merge(regs, enc, mask)
				back, err := Decode(v, c.slave, merged)
				if err != nil || !sameValue(back, val) {
					t.Fatalf("%s slave %s: %s decodes to %#v, written back as %s (mask %s) decodes to %#v, %v",
						describe(v), c.slave, hexRegs(regs), val, hexRegs(enc), hexRegs(mask), back, err)
				}
				if lossless(v, val) && !slices.Equal(merged, regs) {
					t.Fatalf("%s slave %s: %s decodes to %#v, written back as %s (mask %s) merges to %s",
						describe(v), c.slave, hexRegs(regs), val, hexRegs(enc), hexRegs(mask), hexRegs(merged))
				}
				checked++
			}
			if checked < iterations/2 {
				t.Errorf("only %d of %d cases checked", checked, iterations)
			}
		})
	}
}

func widthOf(v *settings.Variable) uint {
	info, _ := datatypeInfo(v.Datatype)
	return info.width
}

// lossless reports whether Decode keeps every bit the variable covers, so
// that writing the value back must reproduce the registers exactly.
func lossless(v *settings.Variable, val any) bool {
	if v.Address.HasBit {
		return true
	}
	info, _ := datatypeInfo(v.Datatype)
	switch info.kind {
	case kindString, kindBool:
		return false // trimmed text; any non-zero is true
	case kindFloat:
		f, _ := val.(float64)
		return !math.IsNaN(f) // NaN payloads are not kept
	}
	return v.Shift < info.width
}

func randomBCD(r *rand.Rand) uint16 {
	var u uint16
	for range 4 {
		u = u<<4 | uint16(r.IntN(10))
	}
	return u
}
