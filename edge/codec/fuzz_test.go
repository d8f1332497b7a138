package codec

import (
	"errors"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

// FuzzDecode decodes random registers with random variable definitions
// that pass settings validation; Decode, Encode and their bit variants
// must never panic, and a decoded value must encode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0x42, 0xF6, 0xE9, 0x79})
	f.Add([]byte{10, 3, 2, 7, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{13, 1, 1, 4, 0x80, 0x12, 0xA4})
	f.Add([]byte{17, 0, 0, 0x20, 0, 0x48, 0x45, 0x4C, 0x4C, 0x4F, 0})
	f.Add([]byte{1, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	datatypes := []string{"string", "bits", "8int", "8uint", "16int", "16uint", "32int", "32uint",
		"16float", "32float", "64int", "64uint", "64float", "ignore", "48int", "48uint", "16bcd", "32bcd", "bool"}
	tables := []string{settings.TypeHolding, settings.TypeInput, settings.TypeCoil, settings.TypeDiscrete}
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		v := settings.Variable{
			Name:     "fuzz",
			Datatype: datatypes[int(next())%len(datatypes)],
			Type:     tables[int(next())%len(tables)],
		}
		flags := next()
		v.Order = []string{"", "ABCD", "CDAB", "BADC", "DCBA"}[int(flags)%5]
		slave := []string{"", "ABCD", "CDAB", "BADC", "DCBA"}[int(flags/5)%5]
		v.Datasize = int(next()) % 126
		if (v.Datatype == "string" || v.Datatype == "ignore") && v.Datasize == 0 {
			v.Datasize = 1
		}
		opts := next()
		if opts&1 != 0 {
			v.Shift = uint(next()) % 64
		}
		if opts&2 != 0 {
			m := uint64(next())<<8 | uint64(next())
			v.Mask = &m
		}
		if opts&4 != 0 {
			v.Factor = f64p([]float64{0.1, 10, -1, 1e-300, 1e300, 1}[int(next())%6])
		}
		if opts&8 != 0 {
			v.Offset = f64p(float64(int8(next())))
		}
		if opts&16 != 0 {
			v.Translation = settings.Translation{{Raw: float64(next()), Label: "A"}, {Raw: 1, Label: 2.0}}
		}
		if opts&32 != 0 && (v.Type == settings.TypeHolding || v.Type == settings.TypeInput) {
			v.Address = settings.Address{Bit: next() % 16, HasBit: true}
		}
		doc := settings.Settings{ModbusMaps: map[string][]settings.Variable{"m": {v}}}
		if doc.Validate() != nil {
			return // outside the validation rules
		}
		n := SpanOf(&v)
		if v.Type == settings.TypeCoil || v.Type == settings.TypeDiscrete {
			bs := make([]bool, n)
			for i := range bs {
				bs[i] = next()&1 != 0
			}
			val, err := DecodeBits(&v, bs)
			if err != nil {
				return
			}
			if val != nil {
				_, _ = EncodeBits(&v, val)
				_, _ = EncodeBit(&v, val)
			}
			return
		}
		regs := make([]uint16, n)
		for i := range regs {
			regs[i] = uint16(next())<<8 | uint16(next())
		}
		val, err := Decode(&v, slave, regs)
		if err != nil {
			if !errors.Is(err, ErrBCD) {
				t.Fatalf("%s: Decode(%s): %v", describe(&v), hexRegs(regs), err)
			}
			return
		}
		if val == nil {
			return
		}
		if _, _, err := EncodeMasked(&v, slave, val); err != nil && !errors.Is(err, ErrRange) && !errors.Is(err, ErrNotIntegral) {
			t.Fatalf("%s: EncodeMasked(%#v): %v", describe(&v), val, err)
		}
	})
}
