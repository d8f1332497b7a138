package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

func f64p(f float64) *float64 { return &f }
func u64p(u uint64) *uint64   { return &u }

// reg returns a holding variable of datatype dt at address 0.
func reg(dt string) settings.Variable {
	return settings.Variable{Name: dt, Type: settings.TypeHolding, Datatype: dt}
}

func with(v settings.Variable, f func(*settings.Variable)) settings.Variable {
	f(&v)
	return v
}

func ordered(dt, order string) settings.Variable {
	return with(reg(dt), func(v *settings.Variable) { v.Order = order })
}

// sameValue compares decoded values: float64 within 1e-12 relative, NaN
// equal to NaN, the sign of zero checked; everything else exactly.
func sameValue(got, want any) bool {
	g, gok := got.(float64)
	w, wok := want.(float64)
	if gok && wok {
		switch {
		case math.IsNaN(w):
			return math.IsNaN(g)
		case w == 0:
			return g == 0 && math.Signbit(g) == math.Signbit(w)
		case math.IsInf(w, 0):
			return g == w
		}
		return math.Abs(g-w) <= 1e-12*math.Abs(w)
	}
	return reflect.DeepEqual(got, want)
}

// pi32 is float32(π) as Decode reports it: its shortest decimal form.
var pi32 = 3.1415927

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

func TestDecodeBits(t *testing.T) {
	coil := func(dt string, size int) settings.Variable {
		return settings.Variable{Name: "c", Type: settings.TypeCoil, Datatype: dt, Datasize: size}
	}
	tests := []struct {
		name string
		v    settings.Variable
		bits []bool
		want any
	}{
		{"bool on", coil("bool", 0), []bool{true}, true},
		{"16uint coil is bool", coil("16uint", 0), []bool{false}, false},
		{"bits 3", coil("bits", 3), []bool{true, false, true}, []bool{true, false, true}},
		{"bits 0 is one bit", coil("bits", 0), []bool{true}, true},
		{"discrete", with(coil("bool", 0), func(v *settings.Variable) { v.Type = settings.TypeDiscrete }), []bool{true}, true},
		{"translation", with(coil("bool", 0), func(v *settings.Variable) {
			v.Translation = settings.Translation{{Raw: 0, Label: "OPEN"}, {Raw: 1, Label: "CLOSED"}}
		}), []bool{false}, "OPEN"},
		{"factor ignored", with(coil("bool", 0), func(v *settings.Variable) { v.Factor = f64p(10) }), []bool{true}, true},
		{"ignore", coil("ignore", 4), make([]bool, 4), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBits(&tt.v, tt.bits)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeBits(%v) = %#v, want %#v", tt.bits, got, tt.want)
			}
		})
	}
	// The result does not alias the input.
	v := coil("bits", 2)
	in := []bool{true, true}
	got, _ := DecodeBits(&v, in)
	in[0] = false
	if !got.([]bool)[0] {
		t.Error("DecodeBits result aliases its input")
	}

	errs := []struct {
		name string
		v    settings.Variable
		bits []bool
		want error
	}{
		{"count", coil("bits", 3), []bool{true}, ErrRegisterCount},
		{"holding", reg("bool"), []bool{true}, ErrDatatype},
		{"string", coil("string", 1), []bool{true}, ErrDatatype},
		{"unknown", coil("word", 0), []bool{true}, ErrDatatype},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBits(&tt.v, tt.bits); !errors.Is(err, tt.want) {
				t.Errorf("DecodeBits error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEncodeVectors(t *testing.T) {
	mode := with(reg("16int"), func(v *settings.Variable) {
		v.Translation = settings.Translation{{Raw: 1, Label: "COLD"}, {Raw: 2, Label: "HEAT"}, {Raw: 3, Label: "FAN"}}
	})
	lum := with(reg("16int"), func(v *settings.Variable) { v.Factor = f64p(10) })
	str3 := with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 })
	tests := []struct {
		name  string
		v     settings.Variable
		slave string
		value any
		want  []uint16
	}{
		{"16int factor", lum, "", -20.0, []uint16{0xFFFE}},
		{"16int factor int", lum, "", 320, []uint16{32}},
		{"16int factor rounds within 1e-9", lum, "", 20.0000000001, []uint16{2}},
		{"16uint 0.1 factor", with(reg("16uint"), func(v *settings.Variable) { v.Factor = f64p(0.1) }), "", 23.4, []uint16{234}},
		{"16uint factor offset", with(reg("16uint"), func(v *settings.Variable) { v.Factor, v.Offset = f64p(0.1), f64p(-40) }), "", 20.0, []uint16{600}},
		{"label", mode, "", "FAN", []uint16{3}},
		{"raw number with translation", mode, "", 2.0, []uint16{2}},
		{"numeric string", reg("16uint"), "", "21", []uint16{21}},
		{"json.Number", reg("16int"), "", json.Number("-7"), []uint16{0xFFF9}},
		{"bool as 1", reg("16uint"), "", true, []uint16{1}},
		{"16int BADC", ordered("16int", "BADC"), "", -2, []uint16{0xFEFF}},
		{"32float CDAB", ordered("32float", "CDAB"), "", 123.456, []uint16{0xE979, 0x42F6}},
		{"32float pi", reg("32float"), "", math.Pi, []uint16{0x4049, 0x0FDB}},
		{"32float slave DCBA", reg("32float"), "DCBA", math.Pi, []uint16{0xDB0F, 0x4940}},
		{"32float NaN", reg("32float"), "", math.NaN(), []uint16{0x7FC0, 0x0000}},
		{"64float BADC", ordered("64float", "BADC"), "", math.Pi, []uint16{0x0940, 0xFB21, 0x4454, 0x182D}},
		{"16float 65504", reg("16float"), "", 65504.0, []uint16{0x7BFF}},
		{"16float 65519 rounds down", reg("16float"), "", 65519.0, []uint16{0x7BFF}},
		{"16float 1/3", reg("16float"), "", 1.0 / 3, []uint16{0x3555}},
		{"16float subnormal", reg("16float"), "", 0x1p-24, []uint16{0x0001}},
		{"16float underflow to zero", reg("16float"), "", 1e-8, []uint16{0x0000}},
		{"16float -0", reg("16float"), "", math.Copysign(0, -1), []uint16{0x8000}},
		{"16float -Inf", reg("16float"), "", math.Inf(-1), []uint16{0xFC00}},
		{"16float rounds to min normal", reg("16float"), "", 0x3FF.8p-24, []uint16{0x0400}},
		{"32int", reg("32int"), "", -2, []uint16{0xFFFF, 0xFFFE}},
		{"32uint CDAB", ordered("32uint", "CDAB"), "", 305419896, []uint16{0x5678, 0x1234}},
		{"48int DCBA", ordered("48int", "DCBA"), "", -2, []uint16{0xFEFF, 0xFFFF, 0xFFFF}},
		{"64uint exact", reg("64uint"), "", uint64(1<<63 + 1), []uint16{0x8000, 0, 0, 1}},
		{"64int min from string", reg("64int"), "", "-9223372036854775808", []uint16{0x8000, 0, 0, 0}},
		{"64uint max from string", ordered("64uint", "CDAB"), "", "18446744073709551615", []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}},
		{"64int exact int64", reg("64int"), "", int64(math.MaxInt64), []uint16{0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}},
		{"16bcd", reg("16bcd"), "", 1234, []uint16{0x1234}},
		{"32bcd CDAB", ordered("32bcd", "CDAB"), "", 123456.0, []uint16{0x3456, 0x0012}},
		{"bool true", reg("bool"), "", true, []uint16{1}},
		{"bool ON", reg("bool"), "", "ON", []uint16{1}},
		{"bits", reg("bits"), "", []bool{true, false, true}, []uint16{0x0005}},
		{"bits from JSON", reg("bits"), "", []any{false, true, 1.0, "on"}, []uint16{0x000E}},
		{"bits as number", reg("bits"), "", 0x8001, []uint16{0x8001}},
		{"string", str3, "", "HELLO", []uint16{0x4845, 0x4C4C, 0x4F00}},
		{"string full", str3, "", "HELLO!", []uint16{0x4845, 0x4C4C, 0x4F21}},
		{"string BADC", with(str3, func(v *settings.Variable) { v.Order = "BADC" }), "", "HELLO", []uint16{0x4548, 0x4C4C, 0x004F}},
		{"string latin-1", with(reg("string"), func(v *settings.Variable) { v.Datasize = 1 }), "", "°C", []uint16{0xB043}},
		{"mask covering the register", with(reg("16uint"), func(v *settings.Variable) { v.Mask = u64p(0xFFFF) }), "", 7, []uint16{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(&tt.v, tt.slave, tt.value)
			if err != nil {
				t.Fatalf("Encode(%#v) error: %v", tt.value, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%#v) = %s, want %s", tt.value, hexRegs(got), hexRegs(tt.want))
			}
		})
	}
}

func TestEncodeMasked(t *testing.T) {
	bit := with(reg("bool"), func(v *settings.Variable) { v.Address = settings.Address{Register: 12, Bit: 3, HasBit: true} })
	tests := []struct {
		name     string
		v        settings.Variable
		value    any
		regs     []uint16
		mask     []uint16
		current  []uint16
		merged   []uint16
		readBack any
	}{
		{"8uint low byte", reg("8uint"), 0xAB, []uint16{0x00AB}, []uint16{0x00FF}, []uint16{0x1234}, []uint16{0x12AB}, 171.0},
		{"8uint BADC high byte", ordered("8uint", "BADC"), 0xAB, []uint16{0xAB00}, []uint16{0xFF00}, []uint16{0x1234}, []uint16{0xAB34}, 171.0},
		{"8int -1", reg("8int"), -1, []uint16{0x00FF}, []uint16{0x00FF}, []uint16{0x1200}, []uint16{0x12FF}, -1.0},
		{"shift mask", with(reg("16uint"), func(v *settings.Variable) { v.Shift, v.Mask = 4, u64p(0xF) }), 10,
			[]uint16{0x00A0}, []uint16{0x00F0}, []uint16{0xFFFF}, []uint16{0xFFAF}, 10.0},
		{"shift only keeps low bits", with(reg("16int"), func(v *settings.Variable) { v.Shift = 4 }), -1,
			[]uint16{0xFFF0}, []uint16{0xFFF0}, []uint16{0x000C}, []uint16{0xFFFC}, -1.0},
		{"32uint mask across registers", with(reg("32uint"), func(v *settings.Variable) { v.Shift, v.Mask = 12, u64p(0xFF) }), 0xAB,
			[]uint16{0x000A, 0xB000}, []uint16{0x000F, 0xF000}, []uint16{0x1111, 0x1111}, []uint16{0x111A, 0xB111}, 171.0},
		{"bit set", bit, true, []uint16{0x0008}, []uint16{0x0008}, []uint16{0x0001}, []uint16{0x0009}, true},
		{"bit clear ON/OFF", bit, "off", []uint16{0x0000}, []uint16{0x0008}, []uint16{0xFFFF}, []uint16{0xFFF7}, false},
		{"bool with mask sets mask bits", with(reg("bool"), func(v *settings.Variable) { v.Mask = u64p(0x6) }), true,
			[]uint16{0x0006}, []uint16{0x0006}, []uint16{0x0000}, []uint16{0x0006}, true},
		{"full register", reg("16uint"), 5, []uint16{5}, []uint16{0xFFFF}, []uint16{0x1234}, []uint16{5}, 5.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regs, mask, err := EncodeMasked(&tt.v, "", tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(regs, tt.regs) || !slices.Equal(mask, tt.mask) {
				t.Errorf("EncodeMasked(%v) = %s mask %s, want %s mask %s", tt.value, hexRegs(regs), hexRegs(mask), hexRegs(tt.regs), hexRegs(tt.mask))
			}
			merged := Merge(tt.current, regs, mask)
			if !slices.Equal(merged, tt.merged) {
				t.Errorf("Merge(%s) = %s, want %s", hexRegs(tt.current), hexRegs(merged), hexRegs(tt.merged))
			}
			if got, err := Decode(&tt.v, "", merged); err != nil || !sameValue(got, tt.readBack) {
				t.Errorf("Decode(merged) = %v, %v; want %v", got, err, tt.readBack)
			}
			_, err = Encode(&tt.v, "", tt.value)
			if full := !slices.ContainsFunc(mask, func(m uint16) bool { return m != 0xFFFF }); full != (err == nil) || !full && !errors.Is(err, ErrReadModifyWrite) {
				t.Errorf("Encode error = %v with mask %s", err, hexRegs(mask))
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	mode := with(reg("16int"), func(v *settings.Variable) {
		v.Translation = settings.Translation{{Raw: 1, Label: "COLD"}, {Raw: 2, Label: "HEAT"}, {Raw: 3, Label: "FAN"}}
	})
	tests := []struct {
		name  string
		v     settings.Variable
		value any
		want  error
	}{
		{"16uint too big", reg("16uint"), 70000, ErrRange},
		{"16uint negative", reg("16uint"), -1, ErrRange},
		{"16int too small", reg("16int"), -32769, ErrRange},
		{"16int too big", reg("16int"), 32768.0, ErrRange},
		{"8int too big", reg("8int"), 128, ErrRange},
		{"8uint too big", reg("8uint"), 256, ErrRange},
		{"32int too big", reg("32int"), 1 << 31, ErrRange},
		{"48uint too big", reg("48uint"), uint64(1 << 48), ErrRange},
		{"64uint float too big", reg("64uint"), 0x1p64, ErrRange},
		{"64int too big", reg("64int"), uint64(1 << 63), ErrRange},
		{"not integral after factor", with(reg("16int"), func(v *settings.Variable) { v.Factor = f64p(10) }), 25.0, ErrNotIntegral},
		{"not integral", reg("16uint"), 1.5, ErrNotIntegral},
		{"not integral 1e-8", reg("16uint"), 1.00000001, ErrNotIntegral},
		{"NaN for integer", reg("16int"), math.NaN(), ErrRange},
		{"unknown label", mode, "WIND", ErrUnknownLabel},
		{"not a number", reg("16int"), "warm", ErrValueType},
		{"wrong Go type", reg("16int"), struct{}{}, ErrValueType},
		{"nil", reg("16int"), nil, ErrValueType},
		{"32float overflow", reg("32float"), 1e39, ErrRange},
		{"16float overflow", reg("16float"), 65520.0, ErrRange},
		{"16float overflow after factor", with(reg("16float"), func(v *settings.Variable) { v.Factor = f64p(0.001) }), 100.0, ErrRange},
		{"string too long", with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 }), "TOOLONG", ErrRange},
		{"string non latin-1", with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 }), "€", ErrRange},
		{"string NUL", with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 }), "A\x00B", ErrValueType},
		{"string not a string", with(reg("string"), func(v *settings.Variable) { v.Datasize = 3 }), 12, ErrValueType},
		{"bcd negative", reg("16bcd"), -1, ErrRange},
		{"bcd too many digits", reg("16bcd"), 12345, ErrRange},
		{"bits too many", reg("bits"), make([]bool, 17), ErrRange},
		{"bits bad element", reg("bits"), []any{"maybe"}, ErrValueType},
		{"bool 2", reg("bool"), 2, ErrRange},
		{"mask field", with(reg("16uint"), func(v *settings.Variable) { v.Shift, v.Mask = 4, u64p(0xF) }), 16, ErrRange},
		{"mask field negative", with(reg("16int"), func(v *settings.Variable) { v.Mask = u64p(0xF) }), -1, ErrRange},
		{"shift leaves no bits", with(reg("16uint"), func(v *settings.Variable) { v.Shift = 16 }), 0, ErrRange},
		{"shift narrows range", with(reg("16int"), func(v *settings.Variable) { v.Shift = 8 }), 128, ErrRange},
		{"bool mask outside width", with(reg("bool"), func(v *settings.Variable) { v.Mask = u64p(0x10000) }), true, ErrRange},
		{"read-modify-write", reg("8uint"), 1, ErrReadModifyWrite},
		{"ignore", with(reg("ignore"), func(v *settings.Variable) { v.Datasize = 1 }), 1, ErrDatatype},
		{"coil", with(reg("bool"), func(v *settings.Variable) { v.Type = settings.TypeCoil }), true, ErrDatatype},
		{"unknown datatype", reg("24int"), 1, ErrDatatype},
		{"unknown order", ordered("32int", "XXXX"), 1, ErrOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(&tt.v, "", tt.value)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Encode(%#v) = %v, %v; want error %v", tt.value, got, err, tt.want)
			}
		})
	}
	v := mode
	v.Name = "mode"
	_, err := Encode(&v, "", "WIND")
	if want := `encode mode: unknown translation label "WIND" (labels: COLD, HEAT, FAN)`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestEncodeBit(t *testing.T) {
	coil := settings.Variable{Name: "relay", Type: settings.TypeCoil, Datatype: "bool"}
	trans := with(coil, func(v *settings.Variable) {
		v.Translation = settings.Translation{{Raw: 0, Label: "OPEN"}, {Raw: 1, Label: "CLOSED"}}
	})
	tests := []struct {
		v     settings.Variable
		value any
		want  bool
	}{
		{coil, true, true}, {coil, false, false},
		{coil, 1, true}, {coil, 0.0, false}, {coil, uint8(1), true}, {coil, json.Number("1"), true},
		{coil, "ON", true}, {coil, "off", false}, {coil, " True ", true}, {coil, "FALSE", false},
		{coil, "1", true}, {coil, "0", false}, {coil, "yes", true}, {coil, "No", false},
		{coil, "HIGH", true}, {coil, "low", false},
		{coil, []bool{true}, true}, {coil, []any{"off"}, false},
		{trans, "CLOSED", true}, {trans, "OPEN", false}, {trans, true, true},
		{with(coil, func(v *settings.Variable) { v.Datatype = "bits" }), []bool{true}, true},
	}
	for _, tt := range tests {
		got, err := EncodeBit(&tt.v, tt.value)
		if err != nil || got != tt.want {
			t.Errorf("EncodeBit(%#v) = %v, %v; want %v", tt.value, got, err, tt.want)
		}
	}
	errs := []struct {
		v     settings.Variable
		value any
		want  error
	}{
		{coil, 2, ErrRange},
		{coil, "maybe", ErrValueType},
		{trans, "AJAR", ErrUnknownLabel},
		{coil, []bool{true, false}, ErrRange},
		{coil, nil, ErrValueType},
		{with(coil, func(v *settings.Variable) { v.Datatype, v.Datasize = "bits", 4 }), true, ErrDatatype},
		{with(coil, func(v *settings.Variable) { v.Datatype, v.Datasize = "ignore", 1 }), true, ErrDatatype},
		{reg("bool"), true, ErrDatatype},
	}
	for _, tt := range errs {
		if got, err := EncodeBit(&tt.v, tt.value); !errors.Is(err, tt.want) {
			t.Errorf("EncodeBit(%#v) = %v, %v; want error %v", tt.value, got, err, tt.want)
		}
	}

	bits4 := with(coil, func(v *settings.Variable) { v.Datatype, v.Datasize = "bits", 4 })
	got, err := EncodeBits(&bits4, []any{true, 0.0, "on", false})
	if want := []bool{true, false, true, false}; err != nil || !slices.Equal(got, want) {
		t.Errorf("EncodeBits = %v, %v; want %v", got, err, want)
	}
	if _, err := EncodeBits(&bits4, []bool{true}); !errors.Is(err, ErrRange) {
		t.Errorf("EncodeBits of 1 bool for 4 bits: error %v, want %v", err, ErrRange)
	}
	if got, err := EncodeBits(&coil, "ON"); err != nil || !slices.Equal(got, []bool{true}) {
		t.Errorf("EncodeBits(bool coil, ON) = %v, %v", got, err)
	}
}

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

// describe shows a variable definition as JSON, for failure messages.
func describe(v *settings.Variable) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", *v)
	}
	return string(b)
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

// ExampleDecode decodes the luminance variable of the seed's PANASONIC map.
func ExampleDecode() {
	factor := 10.0
	v := settings.Variable{Name: "luminance", Type: "holding", Address: settings.Address{Register: 2}, Datatype: "16int", Factor: &factor}
	val, err := Decode(&v, "", []uint16{0xFFFE})
	fmt.Println(val, err)
	// Output: -20 <nil>
}
