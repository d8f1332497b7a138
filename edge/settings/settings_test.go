package settings

import (
	"encoding/json"
	"strings"
	"testing"
)

// seedSettings is the seed's SETTINGS example (000, 3.3.5.1), with the PDF's
// page-break damage repaired and the broker reachable.
const seedSettings = `{
  "modbusMaps": {
    "PANASONIC": [
      {"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint", "factor": 1},
      {"name": "luminance", "type": "holding", "address": 2, "datatype": "16int", "factor": 10},
      {"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [2, "HEAT"], [3, "FAN"]]}
    ]
  },
  "mqttMessages": {
    "SENSOR": {"timestamp": "_DATE_", "temperature": "_temperature_", "luminance": "_luminance_", "mode": "_mode_"}
  },
  "modbusSlaves": [{
    "ip": "172.31.2.43", "slaveId": 1, "map": "PANASONIC",
    "mqttPublications": [{"topic": "SENSOR_ABC/STATUS", "messageBase": "SENSOR", "messageExtras": {"id": "SENSOR_ABC"}}],
    "mqttSubscriptions": ["SENSOR_ABC/DIMMING", "SENSOR_ABC/THERMOSTAT"]
  }],
  "mqtt": {"host": "192.168.168.59", "credentials": {"username": "etra", "password": "etra"}},
  "period": 10,
  "logLevel": "Info"
}`

func TestSeedExampleLoadsUnchanged(t *testing.T) {
	s, err := Load([]byte(seedSettings))
	if err != nil {
		t.Fatal(err)
	}
	vars := s.ModbusMaps["PANASONIC"]
	if len(vars) != 3 || vars[2].Name != "mode" || *vars[1].Factor != 10 {
		t.Fatalf("map: %+v", vars)
	}
	if l, ok := vars[2].Translation.Lookup(3); !ok || l != "FAN" {
		t.Fatalf("translation 3: %v %v", l, ok)
	}
	if r, ok := vars[2].Translation.Reverse("HEAT"); !ok || r != 2 {
		t.Fatalf("reverse HEAT: %v %v", r, ok)
	}
	if s.PeriodOf(&s.ModbusSlaves[0]) != 10 || s.MQTT.Credentials.Username != "etra" {
		t.Fatalf("settings: %+v", s)
	}
}

func TestValidationNamesEveryProblem(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown datatype and bad type", `{"modbusMaps":{"M":[{"name":"a","type":"register","address":0,"datatype":"17int"}]},"modbusSlaves":[]}`,
			[]string{`modbusMaps.M[0].type: "register" is not one of`, `modbusMaps.M[0].datatype: "17int" is not a known datatype`}},
		{"string without datasize", `{"modbusMaps":{"M":[{"name":"s","type":"holding","address":0,"datatype":"string"}]},"modbusSlaves":[]}`,
			[]string{"modbusMaps.M[0].datasize: is required (> 0) for datatype string"}},
		{"duplicate name", `{"modbusMaps":{"M":[{"name":"a","type":"holding","address":0,"datatype":"16int"},{"name":"a","type":"holding","address":1,"datatype":"16int"}]},"modbusSlaves":[]}`,
			[]string{`modbusMaps.M[1].name: "a" is defined twice`}},
		{"slave problems", `{"modbusMaps":{"M":[]},"modbusSlaves":[{"slaveId":300,"map":"X"},{"ip":"h","serialPort":"/dev/x","slaveId":1,"map":"M"}]}`,
			[]string{"modbusSlaves[0]: either ip", "modbusSlaves[0].slaveId: 300 is out of range", `modbusSlaves[0].map: "X" is not defined`, "modbusSlaves[1]: ip and serialPort are exclusive"}},
		{"serial needs baud", `{"modbusMaps":{"M":[]},"modbusSlaves":[{"serialPort":"/dev/ttyUSB0","slaveId":1,"map":"M","parity":"X"}]}`,
			[]string{"modbusSlaves[0].baudRate: is required", `modbusSlaves[0].parity: "X" is not N, E or O`}},
		{"publication without template or broker", `{"modbusMaps":{"M":[]},"modbusSlaves":[{"ip":"h","slaveId":1,"map":"M","mqttPublications":[{"topic":"t","messageBase":"NOPE"}]}]}`,
			[]string{`mqttPublications[0].messageBase: "NOPE" is not defined`, "need the mqtt broker settings"}},
		{"bad order and bit address on a coil", `{"modbusMaps":{"M":[{"name":"c","type":"coil","address":"3.1","datatype":"bits","order":"ACBD"}]},"modbusSlaves":[]}`,
			[]string{`modbusMaps.M[0].order: "ACBD"`, "modbusMaps.M[0].address: a bit address applies to registers"}},
		{"address past the end", `{"modbusMaps":{"M":[{"name":"f","type":"holding","address":65534,"datatype":"64float"}]},"modbusSlaves":[]}`,
			[]string{"runs past the last address"}},
		{"pipelining needs TCP", `{"modbusMaps":{"M":[]},"modbusSlaves":[{"serialPort":"/dev/ttyUSB0","baudRate":9600,"slaveId":1,"map":"M","maxInFlight":4}]}`,
			[]string{"modbusSlaves[0].maxInFlight: several requests in flight need Modbus TCP"}},
		{"writable numeric without bounds", `{"modbusMaps":{"M":[{"name":"sp","type":"holding","address":0,"datatype":"16int","writable":true,"min":1},{"name":"r","type":"input","address":0,"datatype":"16int","writable":true,"min":0,"max":1}]},"modbusSlaves":[]}`,
			[]string{`modbusMaps.M[0].max: is required: variable "sp" is writable and numeric, so writes need both min and max`,
				`modbusMaps.M[1].writable: variable "r" is in the read-only input table`}},
		{"strict decoding", `{"modbusMaps":{"M":[{"name":"a","type":"holding","adress":0,"datatype":"16int"}]},"modbusSlaves":[]}`,
			[]string{"modbusMaps.M[0].adress: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestAddressAndTranslationForms(t *testing.T) {
	var v struct {
		A []Address   `json:"a"`
		T Translation `json:"t"`
	}
	if err := json.Unmarshal([]byte(`{"a":[12,"13","14.3"],"t":{"1":"ON","0":"OFF"}}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A[0].Register != 12 || v.A[1].Register != 13 || !v.A[2].HasBit || v.A[2].Bit != 3 || v.A[2].String() != "14.3" {
		t.Fatalf("addresses: %+v", v.A)
	}
	if l, _ := v.T.Lookup(0); l != "OFF" {
		t.Fatalf("object translation: %+v", v.T)
	}
	for _, bad := range []string{`"14.16"`, `-1`, `"x"`, `70000`} {
		var a Address
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("address %s: want an error", bad)
		}
	}
	out, _ := json.Marshal(v.A)
	if string(out) != `[12,13,"14.3"]` {
		t.Fatalf("marshal: %s", out)
	}
}

func TestRegisterCount(t *testing.T) {
	tests := []struct {
		v    Variable
		want int
	}{
		{Variable{Type: TypeHolding, Datatype: Datatype16Int}, 1},
		{Variable{Type: TypeHolding, Datatype: Datatype32Float}, 2},
		{Variable{Type: TypeHolding, Datatype: Datatype48Uint}, 3},
		{Variable{Type: TypeInput, Datatype: Datatype64Float}, 4},
		{Variable{Type: TypeHolding, Datatype: DatatypeString, Datasize: 8}, 8},
		{Variable{Type: TypeCoil, Datatype: DatatypeBits, Datasize: 12}, 12},
		{Variable{Type: TypeCoil, Datatype: DatatypeBits}, 1},
		{Variable{Type: TypeHolding, Datatype: Datatype32Uint, Address: Address{Register: 3, Bit: 2, HasBit: true}}, 1},
	}
	for _, tt := range tests {
		if got := tt.v.RegisterCount(); got != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.v.Type, tt.v.Datatype, got, tt.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvVar, seedSettings)
	s, ok, err := FromEnv()
	if err != nil || !ok || len(s.ModbusSlaves) != 1 {
		t.Fatalf("FromEnv: %v %v", ok, err)
	}
	t.Setenv(EnvVar, `{"modbusMaps":{}}`)
	if _, _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "SETTINGS environment variable") {
		t.Fatalf("bad SETTINGS: %v", err)
	}
}

func TestNeedsWriteBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Variable
		want bool
	}{
		{"16int holding", Variable{Type: TypeHolding, Datatype: Datatype16Int}, true},
		{"32float holding", Variable{Type: TypeHolding, Datatype: Datatype32Float}, true},
		{"bcd holding", Variable{Type: TypeHolding, Datatype: Datatype16BCD}, true},
		{"8uint holding", Variable{Type: TypeHolding, Datatype: Datatype8Uint}, true},
		{"bool holding", Variable{Type: TypeHolding, Datatype: DatatypeBool}, false},
		{"bit address", Variable{Type: TypeHolding, Datatype: Datatype16Uint, Address: Address{Register: 3, Bit: 2, HasBit: true}}, false},
		{"string", Variable{Type: TypeHolding, Datatype: DatatypeString, Datasize: 4}, false},
		{"coil", Variable{Type: TypeCoil, Datatype: DatatypeBool}, false},
		{"input", Variable{Type: TypeInput, Datatype: Datatype16Int}, false},
		{"unknown datatype", Variable{Type: TypeHolding, Datatype: "17int"}, false},
	} {
		if got := tc.v.NeedsWriteBounds(); got != tc.want {
			t.Errorf("%s: NeedsWriteBounds() = %t, want %t", tc.name, got, tc.want)
		}
	}
}
