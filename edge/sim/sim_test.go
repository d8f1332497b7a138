package sim

import (
	"context"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
)

const testSettings = `{
  "modbusMaps": {
    "PANASONIC": [
      {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint", "factor": 1},
      {"name": "luminance", "type": "holding", "address": 2, "datatype": "16int", "factor": 10},
      {"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [2, "HEAT"], [3, "FAN"]]}
    ],
    "METER": [
      {"name": "counter", "type": "input", "address": 0, "datatype": "32uint"},
      {"name": "voltage", "type": "input", "address": 2, "datatype": "32float"},
      {"name": "pollCount", "type": "input", "address": 10, "datatype": "32uint"},
      {"name": "closed", "type": "coil", "address": 0, "datatype": "bits"}
    ]
  },
  "modbusSlaves": [
    {"ip": "127.0.0.1", "slaveId": 1, "map": "PANASONIC"},
    {"ip": "127.0.0.1", "slaveId": 2, "map": "METER"}
  ]
}`

func load(t *testing.T) (*Simulator, *settings.Settings) {
	t.Helper()
	s, err := settings.Load([]byte(testSettings))
	if err != nil {
		t.Fatal(err)
	}
	return New(s, nil), s
}

func value(t *testing.T, sim *Simulator, s *settings.Settings, unit byte, mapName, name string) any {
	t.Helper()
	for i := range s.ModbusMaps[mapName] {
		v := &s.ModbusMaps[mapName][i]
		if v.Name != name {
			continue
		}
		table := tableOf(v.Type)
		if table == modbus.Coils || table == modbus.DiscreteInputs {
			val, err := codec.DecodeBits(v, sim.Memory().Bits(unit, table, v.Address.Register, uint16(v.RegisterCount())))
			if err != nil {
				t.Fatal(err)
			}
			return val
		}
		val, err := codec.Decode(v, "", sim.Memory().Registers(unit, table, v.Address.Register, uint16(v.RegisterCount())))
		if err != nil {
			t.Fatal(err)
		}
		return val
	}
	t.Fatalf("no variable %s in %s", name, mapName)
	return nil
}

func TestValuesChangeOverTime(t *testing.T) {
	sim, s := load(t)
	start := sim.start
	sim.Step(start.Add(1500 * time.Millisecond))
	if got := value(t, sim, s, 2, "METER", "counter"); got != 1.0 {
		t.Fatalf("counter after 1.5s: got %v, want 1", got)
	}
	v1 := value(t, sim, s, 2, "METER", "voltage").(float64)
	sim.Step(start.Add(5 * time.Second))
	v2 := value(t, sim, s, 2, "METER", "voltage").(float64)
	if v1 == v2 || v1 < 220 || v1 > 240 {
		t.Fatalf("voltage: %v then %v, want a changing value near 230", v1, v2)
	}
	if got := value(t, sim, s, 2, "METER", "counter"); got != 5.0 {
		t.Fatalf("counter after 5s: got %v, want 5", got)
	}
	mode := value(t, sim, s, 1, "PANASONIC", "mode")
	if mode != "COLD" && mode != "HEAT" && mode != "FAN" {
		t.Fatalf("mode: got %v, want a translated label", mode)
	}
	if _, ok := value(t, sim, s, 2, "METER", "closed").(bool); !ok {
		t.Fatal("coil does not decode to a bool")
	}
}

func TestSetAndClientWritesPin(t *testing.T) {
	sim, s := load(t)
	if err := sim.Set(1, "mode", "FAN"); err != nil {
		t.Fatal(err)
	}
	if err := sim.Set(1, "nope", 1); err == nil {
		t.Fatal("Set of an unknown variable: want an error")
	}
	// a client writes temperature (holding 1) through the Modbus handler
	req := modbus.NewWriteSingleRegisterRequest(1, 55)
	if _, err := sim.Handler().HandleModbus(context.Background(), 1, req); err != nil {
		t.Fatal(err)
	}
	sim.Step(sim.start.Add(time.Minute))
	if got := value(t, sim, s, 1, "PANASONIC", "mode"); got != "FAN" {
		t.Fatalf("pinned mode: got %v, want FAN", got)
	}
	if got := value(t, sim, s, 1, "PANASONIC", "temperature"); got != 55.0 {
		t.Fatalf("client-written temperature: got %v, want 55 (pinned)", got)
	}
}

func TestPollCountIncrementsPerRead(t *testing.T) {
	sim, _ := load(t)
	h := sim.Handler()
	for want := uint16(1); want <= 3; want++ {
		req, err := modbus.NewReadRequest(modbus.FuncReadInputRegisters, 0, 12)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.HandleModbus(context.Background(), 2, req)
		if err != nil {
			t.Fatal(err)
		}
		regs, err := modbus.ParseRegistersResponse(resp, modbus.FuncReadInputRegisters, 12)
		if err != nil {
			t.Fatal(err)
		}
		if regs[10] != 0 || regs[11] != want {
			t.Fatalf("read %d: pollCount registers %v, want [0 %d]", want, regs[10:12], want)
		}
	}
	// a read that does not cover it leaves it alone
	req, _ := modbus.NewReadRequest(modbus.FuncReadInputRegisters, 0, 4)
	if _, err := h.HandleModbus(context.Background(), 2, req); err != nil {
		t.Fatal(err)
	}
	if got := sim.Memory().Registers(2, modbus.InputRegisters, 11, 1)[0]; got != 3 {
		t.Fatalf("pollCount after an unrelated read: %d, want 3", got)
	}
}
