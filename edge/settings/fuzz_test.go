package settings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad loads arbitrary SETTINGS documents: Load never panics, and a
// document it accepts, encoded again, loads to the same settings.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{"../../examples/demo/settings.json"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	if maps, _ := filepath.Glob("../../modbus-maps/*.json"); len(maps) > 0 {
		for _, p := range maps[:min(3, len(maps))] {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{
		`{"modbusMaps":{"M":[{"name":"t","type":"holding","address":1,"datatype":"16uint"}]},"modbusSlaves":[{"ip":"127.0.0.1","port":502,"slaveId":1,"map":"M"}],"period":1}`,
		`{"modbusMaps":{"M":[{"name":"s","type":"input","address":0,"datatype":"string","length":4},{"name":"b","type":"coil","address":2,"datatype":"bool"}]},"modbusSlaves":[{"serialPort":"/dev/ttyS0","baudRate":9600,"slaveId":247,"map":"M","protocol":"rtu"}]}`,
		`{"modbusMaps":{"M":[{"name":"w","type":"holding","address":1,"datatype":"32float","writable":true,"min":0,"max":10,"order":"CDAB"}]},"modbusSlaves":[{"ip":"h","slaveId":1,"map":"M"}],"mqtt":{"host":"b","port":1883}}`,
		"modbusMaps: {}\nmodbusSlaves: []\n", "{", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(5*time.Second, func() { panic(fmt.Sprintf("Load hung on %q", data)) })
		defer watchdog.Stop()
		s, err := Load(data)
		if err != nil {
			return
		}
		raw, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("re-encode accepted settings: %v", err)
		}
		again, err := Load(raw)
		if err != nil {
			t.Fatalf("re-encoded settings do not load: %v\n%s", err, raw)
		}
		raw2, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("re-encode the reloaded settings: %v", err)
		}
		if !bytes.Equal(raw, raw2) {
			t.Fatalf("round trip changed the settings:\n got %s\nwant %s", raw2, raw)
		}
	})
}
