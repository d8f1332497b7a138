package codec

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

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
