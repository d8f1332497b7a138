package codec

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

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
