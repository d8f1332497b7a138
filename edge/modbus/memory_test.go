package modbus

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMemoryTables(t *testing.T) {
	m := NewMemory()
	m.SetRegisters(1, HoldingRegisters, 65534, 1, 2)
	m.SetRegisters(1, InputRegisters, 0, 3)
	m.SetBits(1, Coils, 65535, true)
	m.SetBits(1, DiscreteInputs, 7, true, false, true)

	if got := m.Registers(1, HoldingRegisters, 65533, 3); !reflect.DeepEqual(got, []uint16{0, 1, 2}) {
		t.Errorf("holding = %v", got)
	}
	if got := m.Registers(1, InputRegisters, 0, 2); !reflect.DeepEqual(got, []uint16{3, 0}) {
		t.Errorf("input = %v", got)
	}
	if got := m.Registers(2, InputRegisters, 0, 2); !reflect.DeepEqual(got, []uint16{0, 0}) {
		t.Errorf("other unit = %v", got)
	}
	if got := m.Bits(1, Coils, 65534, 2); !reflect.DeepEqual(got, []bool{false, true}) {
		t.Errorf("coils = %v", got)
	}
	if got := m.Bits(1, DiscreteInputs, 7, 3); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("discrete inputs = %v", got)
	}
	// Returned slices are copies.
	got := m.Registers(1, InputRegisters, 0, 1)
	got[0] = 99
	if again := m.Registers(1, InputRegisters, 0, 1); again[0] != 3 {
		t.Errorf("Registers returned an alias: %v", again)
	}
}

func TestMemoryMisusePanics(t *testing.T) {
	m := NewMemory()
	for name, f := range map[string]func(){
		"SetRegisters on coils":   func() { m.SetRegisters(1, Coils, 0, 1) },
		"Registers on inputs":     func() { m.Registers(1, DiscreteInputs, 0, 1) },
		"SetBits on holding":      func() { m.SetBits(1, HoldingRegisters, 0, true) },
		"Bits on input registers": func() { m.Bits(1, InputRegisters, 0, 1) },
		"SetRegisters past end":   func() { m.SetRegisters(1, HoldingRegisters, 65535, 1, 2) },
		"Bits past end":           func() { m.Bits(1, Coils, 65535, 2) },
		"Restrict past end":       func() { m.Restrict(1, Coils, Range{65535, 2}) },
		"Restrict bad table":      func() { m.Restrict(1, Table(0)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestMemoryRestrict(t *testing.T) {
	m := NewMemory()
	m.Restrict(1, HoldingRegisters, Range{30, 5}, Range{0, 10}, Range{10, 5}, Range{12, 2}, Range{50, 0}, Range{65535, 1})
	u := m.units[1]
	if want := []Range{{0, 15}, {30, 5}, {65535, 1}}; !reflect.DeepEqual(u.ranges[HoldingRegisters-1], want) {
		t.Errorf("merged ranges = %v, want %v", u.ranges[HoldingRegisters-1], want)
	}
	tests := []struct {
		addr, qty uint16
		want      bool
	}{
		{0, 15, true}, {0, 16, false}, {14, 1, true}, {15, 1, false}, {29, 2, false},
		{30, 5, true}, {34, 1, true}, {34, 2, false}, {65535, 1, true}, {65534, 2, false}, {50, 1, false},
	}
	for _, tt := range tests {
		if got := u.valid(HoldingRegisters, tt.addr, tt.qty); got != tt.want {
			t.Errorf("valid(%d+%d) = %v, want %v", tt.addr, tt.qty, got, tt.want)
		}
	}
	if !u.valid(InputRegisters, 0, 125) {
		t.Error("restricting holding registers restricted input registers")
	}
	m.Restrict(1, HoldingRegisters)
	if u.valid(HoldingRegisters, 0, 1) {
		t.Error("Restrict with no ranges left addresses valid")
	}
}

// TestMemoryReadWriteAtomic: FC 23 validates both ranges before writing.
func TestMemoryReadWriteAtomic(t *testing.T) {
	m := NewMemory()
	m.Restrict(1, HoldingRegisters, Range{0, 10})
	req, _ := NewReadWriteMultipleRegistersRequest(20, 1, 0, []uint16{7})
	if _, err := m.HandleModbus(context.Background(), 1, req); !errors.Is(err, ErrIllegalDataAddress) {
		t.Fatalf("err = %v, want ErrIllegalDataAddress", err)
	}
	if got := m.Registers(1, HoldingRegisters, 0, 1); got[0] != 0 {
		t.Errorf("register written although the read range was invalid: %v", got)
	}
}

func TestMemoryDeviceIdentification(t *testing.T) {
	tests := []struct {
		objects map[byte]string
		level   byte
	}{
		{map[byte]string{0: "a", 1: "b", 2: "c"}, 0x81},
		{map[byte]string{0: "a", 1: "b", 2: "c", 5: "model"}, 0x82},
		{map[byte]string{0: "a", 1: "b", 2: "c", 0x90: "x"}, 0x83},
	}
	for _, tt := range tests {
		m := NewMemory()
		m.SetIdentification(1, tt.objects)
		req, _ := NewReadDeviceIDRequest(ReadDeviceIDBasic, 0)
		resp, err := m.HandleModbus(context.Background(), 1, req)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReadDeviceIDResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		if r.ConformityLevel != tt.level || len(r.Objects) != 3 || r.MoreFollows {
			t.Errorf("objects %v: got %+v, want level 0x%02x and 3 objects", tt.objects, r, tt.level)
		}
	}
	// Over-long values are truncated to fit one response.
	m := NewMemory()
	m.SetIdentification(1, map[byte]string{0: strings.Repeat("v", 300)})
	req, _ := NewReadDeviceIDRequest(ReadDeviceIDIndividual, 0)
	resp, err := m.HandleModbus(context.Background(), 1, req)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ParseReadDeviceIDResponse(resp); err != nil || len(r.Objects[0].Value) != 244 {
		t.Errorf("got %v, %v; want one 244-byte object", r, err)
	}
}
