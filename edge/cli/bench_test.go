package cli

import (
	"fmt"
	"testing"

	"github.com/gridedge/gridedge/edge/settings"
)

// bigSettings is a SETTINGS document of the scale test's size: 500 slaves
// on 10 maps of 30 variables.
func bigSettings(b *testing.B, addressShift int) *settings.Settings {
	b.Helper()
	s := &settings.Settings{ModbusMaps: map[string][]settings.Variable{}}
	for m := range 10 {
		name := fmt.Sprintf("map%d", m)
		for v := range 30 {
			s.ModbusMaps[name] = append(s.ModbusMaps[name], settings.Variable{Name: fmt.Sprintf("v%d", v), Type: settings.TypeHolding,
				Address: settings.Address{Register: uint16(2*v + addressShift*(v%2))}, Datatype: settings.Datatype32Float})
		}
	}
	for i := range 500 {
		s.ModbusSlaves = append(s.ModbusSlaves, settings.Slave{IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), SlaveID: 1, Map: fmt.Sprintf("map%d", i%10)})
	}
	if err := s.Validate(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkDiffSettings500Slaves: map diff of two 500-slave documents in
// which half the variables of every map moved.
func BenchmarkDiffSettings500Slaves(b *testing.B) {
	old, new := bigSettings(b, 0), bigSettings(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		d := diffSettings(old, new)
		if !d.Changed() {
			b.Fatal("no change found")
		}
	}
}
