package mqtt

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/settings"
)

// FuzzWritePayload feeds arbitrary command payloads to the command decoder
// (ParseCommand) and the write check (CheckWrite) for the variables of
// testdata/attack.json. Neither may panic; a malformed payload is
// ErrBadMessage; and whatever is accepted is a writable variable whose
// value, encoded as DeviceWriter would write it and decoded back as the
// poller would read it, lies within the variable's min and max.
func FuzzWritePayload(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "attack.json"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := settings.Load(data)
	if err != nil {
		f.Fatal(err)
	}
	vars := map[string]*settings.Variable{}
	for i := range s.ModbusMaps["A"] {
		v := &s.ModbusMaps["A"][i]
		vars[v.Name] = v
	}
	for _, seed := range []string{
		`{"temperature": 21}`, `{"temperature": 35}`, `{"temperature": 36}`, `{"temperature": 4.9999999999}`,
		`{"setpoint": 29.9}`, `{"setpoint": 30.00000000001}`, `{"setpoint": "20"}`, `{"setpoint": -1e400}`,
		`{"mode": "FAN"}`, `{"mode": 3}`, `{"mode": 4}`, `{"mode": "TURBO"}`,
		`{"fanSpeed": 5, "valve": 100, "dimmer": 0}`, `{"dimmer": 255}`, `{"dimmer": true}`,
		`{"luminance": 10}`, `{"locked": 1}`, `{"enabled": true}`, `{"enabled": 1}`, `{"pump": false}`,
		`{"valve": 18446744073709551616}`, `{"valve": 1e-320}`, `{"valve": [1]}`, `{"valve": {"x": 1}}`,
		`{"temperature": 1, "temperature": 2}`, `{}`, `[]`, `null`, `{"a":1} x`, `{"\u0000": 1}`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		as, err := ParseCommand(payload)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("ParseCommand(%q): %v, want ErrBadMessage", payload, err)
			}
			return
		}
		if len(as) == 0 {
			t.Fatalf("ParseCommand(%q) accepted an empty command", payload)
		}
		seen := map[string]bool{}
		for _, a := range as {
			if seen[a.Variable] {
				t.Fatalf("ParseCommand(%q) accepted %q twice", payload, a.Variable)
			}
			seen[a.Variable] = true
			v := vars[a.Variable]
			if v == nil || CheckWrite(s, 0, v, a.Value) != nil {
				continue
			}
			if !v.IsWritable() {
				t.Fatalf("%s = %v accepted, but the variable is not writable", v.Name, a.Value)
			}
			checkWritten(t, s, v, a.Value)
		}
	})
}

// checkWritten encodes an accepted value as DeviceWriter writes it, decodes
// it as the poller reads it, and fails unless the result is within bounds.
func checkWritten(t *testing.T, s *settings.Settings, v *settings.Variable, value any) {
	t.Helper()
	var got any
	if v.Type == settings.TypeCoil {
		bits, err := codec.EncodeBits(v, value)
		if err != nil {
			t.Fatalf("%s = %v accepted but not encodable: %v", v.Name, value, err)
		}
		if got, err = codec.DecodeBits(v, bits); err != nil {
			t.Fatalf("%s = %v: decode of the written bits: %v", v.Name, value, err)
		}
	} else {
		regs, mask, err := codec.EncodeMasked(v, s.ModbusSlaves[0].Order, value)
		if err != nil {
			t.Fatalf("%s = %v accepted but not encodable: %v", v.Name, value, err)
		}
		written := codec.Merge(make([]uint16, len(regs)), regs, mask)
		if got, err = codec.Decode(v, s.ModbusSlaves[0].Order, written); err != nil {
			t.Fatalf("%s = %v: decode of the written registers: %v", v.Name, value, err)
		}
	}
	if !v.NeedsWriteBounds() {
		return
	}
	f, ok := engineeringNumber(v, got)
	if !ok {
		t.Fatalf("%s = %v accepted, writes %v (%T), which is not a number", v.Name, value, got, got)
	}
	// Decoding multiplies by the factor again: allow its rounding.
	tol := 1e-9 * max(1, math.Abs(*v.Min), math.Abs(*v.Max))
	if math.IsNaN(f) || f < *v.Min-tol || f > *v.Max+tol {
		t.Fatalf("%s = %v accepted, writes %v, outside [%v, %v]", v.Name, value, f, *v.Min, *v.Max)
	}
}
