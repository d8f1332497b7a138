package codec

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

func TestDecodeVectors(t *testing.T) {
	f123 := 123.456
	bitsOf := func(set ...int) []bool {
		out := make([]bool, 16)
		for _, i := range set {
			out[i] = true
		}
		return out
	}
	tests := []struct {
		name  string
		v     settings.Variable
		slave string // slave order
		regs  []uint16
		want  any
	}{
		// 32float 123.456 = 0x42F6E979 in every order.
		{"32float ABCD", ordered("32float", "ABCD"), "", []uint16{0x42F6, 0xE979}, f123},
		{"32float CDAB", ordered("32float", "CDAB"), "", []uint16{0xE979, 0x42F6}, f123},
		{"32float BADC", ordered("32float", "BADC"), "", []uint16{0xF642, 0x79E9}, f123},
		{"32float DCBA", ordered("32float", "DCBA"), "", []uint16{0x79E9, 0xF642}, f123},
		{"32float default order", reg("32float"), "", []uint16{0x42F6, 0xE979}, f123},
		{"32float pi spec sheet", reg("32float"), "", []uint16{0x4049, 0x0FDB}, pi32},
		{"32float slave order CDAB", reg("32float"), "CDAB", []uint16{0x0FDB, 0x4049}, pi32},
		{"32float variable order overrides slave", ordered("32float", "ABCD"), "DCBA", []uint16{0x4049, 0x0FDB}, pi32},
		{"32float NaN", reg("32float"), "", []uint16{0x7FC0, 0x0000}, math.NaN()},
		{"32float -Inf", reg("32float"), "", []uint16{0xFF80, 0x0000}, math.Inf(-1)},
		{"32float factor", with(reg("32float"), func(v *settings.Variable) { v.Factor = f64p(2) }), "", []uint16{0x4049, 0x0FDB}, 6.2831854},

		// 64float pi = 0x400921FB54442D18.
		{"64float ABCD", ordered("64float", "ABCD"), "", []uint16{0x4009, 0x21FB, 0x5444, 0x2D18}, math.Pi},
		{"64float CDAB", ordered("64float", "CDAB"), "", []uint16{0x2D18, 0x5444, 0x21FB, 0x4009}, math.Pi},
		{"64float BADC", ordered("64float", "BADC"), "", []uint16{0x0940, 0xFB21, 0x4454, 0x182D}, math.Pi},
		{"64float DCBA", ordered("64float", "DCBA"), "", []uint16{0x182D, 0x4454, 0xFB21, 0x0940}, math.Pi},

		// 16float.
		{"16float 1", reg("16float"), "", []uint16{0x3C00}, 1.0},
		{"16float -2", reg("16float"), "", []uint16{0xC000}, -2.0},
		{"16float max", reg("16float"), "", []uint16{0x7BFF}, 65504.0},
		{"16float 1/3", reg("16float"), "", []uint16{0x3555}, 0.333251953125},
		{"16float min normal", reg("16float"), "", []uint16{0x0400}, 0x1p-14},
		{"16float min subnormal", reg("16float"), "", []uint16{0x0001}, 0x1p-24},
		{"16float max subnormal", reg("16float"), "", []uint16{0x03FF}, 1023 * 0x1p-24},
		{"16float +0", reg("16float"), "", []uint16{0x0000}, 0.0},
		{"16float -0", reg("16float"), "", []uint16{0x8000}, math.Copysign(0, -1)},
		{"16float +Inf", reg("16float"), "", []uint16{0x7C00}, math.Inf(1)},
		{"16float -Inf", reg("16float"), "", []uint16{0xFC00}, math.Inf(-1)},
		{"16float NaN", reg("16float"), "", []uint16{0x7E00}, math.NaN()},
		{"16float NaN payload", reg("16float"), "", []uint16{0xFC01}, math.NaN()},
		{"16float BADC", ordered("16float", "BADC"), "", []uint16{0x003C}, 1.0},
		{"16float DCBA", ordered("16float", "DCBA"), "", []uint16{0x00C0}, -2.0},
		{"16float CDAB is ABCD", ordered("16float", "CDAB"), "", []uint16{0x3C00}, 1.0},

		// 16-bit integers.
		{"16uint", reg("16uint"), "", []uint16{0xFFFF}, 65535.0},
		{"16int -1", reg("16int"), "", []uint16{0xFFFF}, -1.0},
		{"16int min", reg("16int"), "", []uint16{0x8000}, -32768.0},
		{"16int max", reg("16int"), "", []uint16{0x7FFF}, 32767.0},
		{"16int BADC", ordered("16int", "BADC"), "", []uint16{0xFEFF}, -2.0},
		{"16int DCBA", ordered("16int", "DCBA"), "", []uint16{0xFEFF}, -2.0},
		{"16int CDAB", ordered("16int", "CDAB"), "", []uint16{0xFFFE}, -2.0},
		{"16uint BADC", ordered("16uint", "BADC"), "", []uint16{0x3412}, 0x1234 * 1.0},

		// 8-bit: the low byte of the order-adjusted register.
		{"8uint ABCD low byte", reg("8uint"), "", []uint16{0x12AB}, 171.0},
		{"8uint CDAB low byte", ordered("8uint", "CDAB"), "", []uint16{0x12AB}, 171.0},
		{"8uint BADC high byte", ordered("8uint", "BADC"), "", []uint16{0x12AB}, 18.0},
		{"8uint DCBA high byte", ordered("8uint", "DCBA"), "", []uint16{0x12AB}, 18.0},
		{"8int -1", reg("8int"), "", []uint16{0x00FF}, -1.0},
		{"8int 127", reg("8int"), "", []uint16{0xFF7F}, 127.0},
		{"8int DCBA -128", ordered("8int", "DCBA"), "", []uint16{0x80FF}, -128.0},

		// 32-bit integers: 0x12345678 = 305419896, 0xFFFFFFFE = -2.
		{"32uint ABCD", ordered("32uint", "ABCD"), "", []uint16{0x1234, 0x5678}, 305419896.0},
		{"32uint CDAB", ordered("32uint", "CDAB"), "", []uint16{0x5678, 0x1234}, 305419896.0},
		{"32uint BADC", ordered("32uint", "BADC"), "", []uint16{0x3412, 0x7856}, 305419896.0},
		{"32uint DCBA", ordered("32uint", "DCBA"), "", []uint16{0x7856, 0x3412}, 305419896.0},
		{"32int ABCD", ordered("32int", "ABCD"), "", []uint16{0xFFFF, 0xFFFE}, -2.0},
		{"32int CDAB", ordered("32int", "CDAB"), "", []uint16{0xFFFE, 0xFFFF}, -2.0},
		{"32int BADC", ordered("32int", "BADC"), "", []uint16{0xFFFF, 0xFEFF}, -2.0},
		{"32int DCBA", ordered("32int", "DCBA"), "", []uint16{0xFEFF, 0xFFFF}, -2.0},
		{"32int min", reg("32int"), "", []uint16{0x8000, 0x0000}, -2147483648.0},
		{"32uint max", reg("32uint"), "", []uint16{0xFFFF, 0xFFFF}, 4294967295.0},

		// 48-bit: 0x123456789ABC = 20015998343868.
		{"48uint ABCD", ordered("48uint", "ABCD"), "", []uint16{0x1234, 0x5678, 0x9ABC}, 20015998343868.0},
		{"48uint CDAB", ordered("48uint", "CDAB"), "", []uint16{0x9ABC, 0x5678, 0x1234}, 20015998343868.0},
		{"48uint BADC", ordered("48uint", "BADC"), "", []uint16{0x3412, 0x7856, 0xBC9A}, 20015998343868.0},
		{"48uint DCBA", ordered("48uint", "DCBA"), "", []uint16{0xBC9A, 0x7856, 0x3412}, 20015998343868.0},
		{"48int -1", reg("48int"), "", []uint16{0xFFFF, 0xFFFF, 0xFFFF}, -1.0},
		{"48int min", reg("48int"), "", []uint16{0x8000, 0, 0}, -140737488355328.0},
		{"48int CDAB -2", ordered("48int", "CDAB"), "", []uint16{0xFFFE, 0xFFFF, 0xFFFF}, -2.0},

		// 64-bit: 0x0102030405060708 = 72623859790382856 (> 2^53).
		{"64uint ABCD exact", ordered("64uint", "ABCD"), "", []uint16{0x0102, 0x0304, 0x0506, 0x0708}, uint64(72623859790382856)},
		{"64uint CDAB exact", ordered("64uint", "CDAB"), "", []uint16{0x0708, 0x0506, 0x0304, 0x0102}, uint64(72623859790382856)},
		{"64uint BADC exact", ordered("64uint", "BADC"), "", []uint16{0x0201, 0x0403, 0x0605, 0x0807}, uint64(72623859790382856)},
		{"64uint DCBA exact", ordered("64uint", "DCBA"), "", []uint16{0x0807, 0x0605, 0x0403, 0x0201}, uint64(72623859790382856)},
		{"64uint 2^53 is float", reg("64uint"), "", []uint16{0x0020, 0, 0, 0}, float64(1 << 53)},
		{"64uint 2^53+1 is exact", reg("64uint"), "", []uint16{0x0020, 0, 0, 1}, uint64(1<<53 + 1)},
		{"64uint small", reg("64uint"), "", []uint16{0, 0, 0, 42}, 42.0},
		{"64uint big with factor is float", with(reg("64uint"), func(v *settings.Variable) { v.Factor = f64p(2) }), "",
			[]uint16{0x0102, 0x0304, 0x0506, 0x0708}, 2 * 72623859790382856.0},
		{"64uint big with offset is float", with(reg("64uint"), func(v *settings.Variable) { v.Offset = f64p(1) }), "",
			[]uint16{0x0102, 0x0304, 0x0506, 0x0708}, 72623859790382857.0},
		{"64uint big with factor 1 is exact", with(reg("64uint"), func(v *settings.Variable) { v.Factor = f64p(1) }), "",
			[]uint16{0x0102, 0x0304, 0x0506, 0x0708}, uint64(72623859790382856)},
		{"64int -1", reg("64int"), "", []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, -1.0},
		{"64int min exact", reg("64int"), "", []uint16{0x8000, 0, 0, 0}, int64(math.MinInt64)},
		{"64int max exact", reg("64int"), "", []uint16{0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}, int64(math.MaxInt64)},
		{"64int -2^53 is float", reg("64int"), "", []uint16{0xFFE0, 0, 0, 0}, -float64(1 << 53)},
		{"64int CDAB -2", ordered("64int", "CDAB"), "", []uint16{0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF}, -2.0},

		// BCD.
		{"16bcd", reg("16bcd"), "", []uint16{0x1234}, 1234.0},
		{"16bcd max", reg("16bcd"), "", []uint16{0x9999}, 9999.0},
		{"16bcd BADC", ordered("16bcd", "BADC"), "", []uint16{0x3412}, 1234.0},
		{"32bcd", reg("32bcd"), "", []uint16{0x0012, 0x3456}, 123456.0},
		{"32bcd CDAB", ordered("32bcd", "CDAB"), "", []uint16{0x3456, 0x0012}, 123456.0},
		{"32bcd max", reg("32bcd"), "", []uint16{0x9999, 0x9999}, 99999999.0},
		{"16bcd masked digits", with(reg("16bcd"), func(v *settings.Variable) { v.Shift, v.Mask = 8, u64p(0xFF) }), "", []uint16{0x42FF}, 42.0},
		{"16bcd factor", with(reg("16bcd"), func(v *settings.Variable) { v.Factor = f64p(0.1) }), "", []uint16{0x0235}, 23.5},

		// bool, bits, bit addresses.
		{"bool false", reg("bool"), "", []uint16{0}, false},
		{"bool true", reg("bool"), "", []uint16{0x0500}, true},
		{"bool masked", with(reg("bool"), func(v *settings.Variable) { v.Mask = u64p(0x0F) }), "", []uint16{0xFF00}, false},
		{"bool translated", with(reg("bool"), func(v *settings.Variable) {
			v.Translation = settings.Translation{{Raw: 0, Label: "OFF"}, {Raw: 1, Label: "ON"}}
		}), "", []uint16{7}, "ON"},
		{"bits LSB first", reg("bits"), "", []uint16{0x8001}, bitsOf(0, 15)},
		{"bits 0x0006", reg("bits"), "", []uint16{0x0006}, bitsOf(1, 2)},
		{"bits BADC", ordered("bits", "BADC"), "", []uint16{0x0100}, bitsOf(0)},
		{"bits shifted", with(reg("bits"), func(v *settings.Variable) { v.Shift = 8 }), "", []uint16{0x0300}, bitsOf(0, 1)},
		{"bit 12.3 set", with(reg("bool"), func(v *settings.Variable) { v.Address = settings.Address{Register: 12, Bit: 3, HasBit: true} }), "", []uint16{0x0008}, true},
		{"bit 12.3 clear", with(reg("bool"), func(v *settings.Variable) { v.Address = settings.Address{Register: 12, Bit: 3, HasBit: true} }), "", []uint16{0xFFF7}, false},
		{"bit 15 of 32uint variable", with(reg("32uint"), func(v *settings.Variable) { v.Address = settings.Address{Bit: 15, HasBit: true} }), "BADC", []uint16{0x8000}, true},

		// Strings.
		{"string", with(reg("string"), func(v *settings.Variable) { v.Datasize = 4 }), "", []uint16{0x4845, 0x4C4C, 0x4F00, 0x0000}, "HELLO"},
		{"string spaces trimmed", with(reg("string"), func(v *settings.Variable) { v.Datasize = 4 }), "", []uint16{0x4142, 0x4320, 0x2020, 0x2020}, "ABC"},
		{"string leading space kept", with(reg("string"), func(v *settings.Variable) { v.Datasize = 2 }), "", []uint16{0x2041, 0x4200}, " AB"},
		{"string cut at NUL", with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 }), "", []uint16{0x4142, 0x0058, 0x5959}, "AB"},
		{"string full", with(reg("string"), func(v *settings.Variable) { v.Datasize = 2 }), "", []uint16{0x5731, 0x3233}, "W123"},
		{"string BADC", with(ordered("string", "BADC"), func(v *settings.Variable) { v.Datasize = 3 }), "", []uint16{0x4548, 0x4C4C, 0x004F}, "HELLO"},
		{"string slave DCBA", with(reg("string"), func(v *settings.Variable) { v.Datasize = 1 }), "DCBA", []uint16{0x4948}, "HI"},
		{"string CDAB keeps registers in order", with(ordered("string", "CDAB"), func(v *settings.Variable) { v.Datasize = 2 }), "", []uint16{0x4142, 0x4344}, "ABCD"},
		{"string latin-1", with(reg("string"), func(v *settings.Variable) { v.Datasize = 1 }), "", []uint16{0xB043}, "°C"},
		{"string empty", with(reg("string"), func(v *settings.Variable) { v.Datasize = 2 }), "", []uint16{0, 0}, ""},

		// ignore.
		{"ignore", with(reg("ignore"), func(v *settings.Variable) { v.Datasize = 3 }), "", []uint16{1, 2, 3}, nil},

		// shift, mask, factor, offset, translation.
		{"shift mask", with(reg("16uint"), func(v *settings.Variable) { v.Shift, v.Mask = 4, u64p(0xF) }), "", []uint16{0x00A5}, 10.0},
		{"mask only", with(reg("16uint"), func(v *settings.Variable) { v.Mask = u64p(0x00FF) }), "", []uint16{0x12AB}, 171.0},
		{"signed shift is arithmetic", with(reg("16int"), func(v *settings.Variable) { v.Shift = 8 }), "", []uint16{0xFE00}, -2.0},
		{"signed mask is unsigned field", with(reg("16int"), func(v *settings.Variable) { v.Shift, v.Mask = 8, u64p(0xFF) }), "", []uint16{0xFE00}, 254.0},
		{"signed mask beyond width", with(reg("16int"), func(v *settings.Variable) { v.Shift, v.Mask = 8, u64p(0xFFFF) }), "", []uint16{0xFE00}, 254.0},
		{"shift past width", with(reg("16uint"), func(v *settings.Variable) { v.Shift = 20 }), "", []uint16{0xFFFF}, 0.0},
		{"32uint shift", with(reg("32uint"), func(v *settings.Variable) { v.Shift = 16 }), "", []uint16{0x0001, 0xFFFF}, 1.0},
		{"factor offset", with(reg("16uint"), func(v *settings.Variable) { v.Factor, v.Offset = f64p(0.1), f64p(-40) }), "", []uint16{600}, 20.0},
		{"offset only", with(reg("16int"), func(v *settings.Variable) { v.Offset = f64p(-273.15) }), "", []uint16{300}, 26.85},
		{"translation after factor, tolerant", with(reg("16uint"), func(v *settings.Variable) {
			v.Factor = f64p(0.1)
			v.Translation = settings.Translation{{Raw: 0.3, Label: "LOW"}}
		}), "", []uint16{3}, "LOW"},
		{"translation after mask", with(reg("16uint"), func(v *settings.Variable) {
			v.Mask = u64p(3)
			v.Translation = settings.Translation{{Raw: 2, Label: "TRIPPED"}}
		}), "", []uint16{0xFFFE}, "TRIPPED"},
		{"translation label of any type", with(reg("16uint"), func(v *settings.Variable) {
			v.Translation = settings.Translation{{Raw: 5, Label: 50.0}}
		}), "", []uint16{5}, 50.0},
		{"translation miss returns number", with(reg("16uint"), func(v *settings.Variable) {
			v.Translation = settings.Translation{{Raw: 1, Label: "A"}}
		}), "", []uint16{9}, 9.0},
		{"64uint big untranslated", with(reg("64uint"), func(v *settings.Variable) {
			v.Translation = settings.Translation{{Raw: 72623859790382856, Label: "X"}}
		}), "", []uint16{0x0102, 0x0304, 0x0506, 0x0708}, uint64(72623859790382856)},
		{"input table", with(reg("16uint"), func(v *settings.Variable) { v.Type = settings.TypeInput }), "", []uint16{7}, 7.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(&tt.v, tt.slave, tt.regs)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", hexRegs(tt.regs), err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("Decode(%s) = %#v (%T), want %#v (%T)", hexRegs(tt.regs), got, got, tt.want, tt.want)
			}
		})
	}
}

// TestDecodePanasonic decodes the seed's PANASONIC example map
// (testdata/panasonic.json): each case's registers start at the lowest
// address of the map, and each variable decodes from its own span of them.
func TestDecodePanasonic(t *testing.T) {
	var golden struct {
		Map   []settings.Variable `json:"map"`
		Cases []struct {
			Registers []uint16       `json:"registers"`
			Want      map[string]any `json:"want"`
		} `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "panasonic.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Map) == 0 {
		t.Fatal("testdata/panasonic.json: empty map")
	}
	first := golden.Map[0].Address.Register
	for _, v := range golden.Map {
		first = min(first, v.Address.Register)
	}
	for _, c := range golden.Cases {
		got := map[string]any{}
		for i := range golden.Map {
			v := &golden.Map[i]
			lo := int(v.Address.Register - first)
			hi := lo + SpanOf(v)
			if hi > len(c.Registers) {
				t.Fatalf("registers %v: %s needs registers %d..%d", c.Registers, v.Name, lo, hi-1)
			}
			val, err := Decode(v, "", c.Registers[lo:hi])
			if err != nil {
				t.Fatalf("registers %v: %v", c.Registers, err)
			}
			got[v.Name] = val
		}
		if !reflect.DeepEqual(got, c.Want) {
			t.Errorf("registers %v: got %v, want %v", c.Registers, got, c.Want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		v    settings.Variable
		regs []uint16
		want error
	}{
		{"too few registers", reg("32float"), []uint16{1}, ErrRegisterCount},
		{"too many registers", reg("16uint"), []uint16{1, 2}, ErrRegisterCount},
		{"no registers", reg("16uint"), nil, ErrRegisterCount},
		{"string short", with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 }), []uint16{1, 2}, ErrRegisterCount},
		{"coil variable", with(reg("bool"), func(v *settings.Variable) { v.Type = settings.TypeCoil }), []uint16{1}, ErrDatatype},
		{"unknown table", with(reg("16uint"), func(v *settings.Variable) { v.Type = "register" }), []uint16{1}, ErrDatatype},
		{"unknown datatype", reg("24int"), []uint16{1}, ErrDatatype},
		{"unknown order", ordered("32int", "BACD"), []uint16{1, 2}, ErrOrder},
		{"bcd nibble", reg("16bcd"), []uint16{0x12A4}, ErrBCD},
		{"32bcd nibble", reg("32bcd"), []uint16{0x0000, 0x00F0}, ErrBCD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(&tt.v, "", tt.regs)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, %v; want error %v", got, err, tt.want)
			}
		})
	}
	v := reg("16bcd")
	v.Name = "energy"
	_, err := Decode(&v, "", []uint16{0x12A4})
	if want := "decode energy: invalid BCD digit: nibble 0xA at digit 1 (0 = least significant) (registers 0x12A4)"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name string
		v    settings.Variable
		regs []uint16
	}{
		{"16uint_factor", with(reg("16uint"), func(v *settings.Variable) { v.Factor = f64p(0.1) }), []uint16{2345}},
		{"32float_CDAB", ordered("32float", "CDAB"), []uint16{0xE979, 0x42F6}},
		{"string_16", with(reg("string"), func(v *settings.Variable) { v.Datasize = 8 }),
			[]uint16{0x5345, 0x5249, 0x414C, 0x2D30, 0x3031, 0x3233, 0x0000, 0x0000}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(&c.v, "", c.regs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
