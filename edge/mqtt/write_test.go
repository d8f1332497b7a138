package mqtt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
)

const unit = 7 // slaveId in testdata/writes.json

// writeEnv is a broker, a device, a running bridge for testdata/writes.json
// and a peer that sends commands and watches HVAC/#.
type writeEnv struct {
	t    *testing.T
	s    *settings.Settings
	dev  *device
	b    *Bridge
	peer *peer
}

func newWriteEnv(t *testing.T, o Options, edit func(*settings.Settings)) *writeEnv {
	t.Helper()
	br := startBroker(t, brokerOptions{})
	s := loadSettings(t, "writes.json", br.addr)
	if edit != nil {
		edit(s)
	}
	dev := startDevice(t)
	dev.mem.Restrict(unit, modbus.HoldingRegisters, modbus.Range{Start: 0, Count: 1000})
	if o.ClientID == "" {
		o.ClientID = "edge-" + t.Name()
	}
	if o.WriteLimits == (WriteLimits{}) {
		// These tests write many variables in quick succession; the rate
		// limits have their own tests (attack_test.go).
		o.WriteLimits = unlimited
	}
	o.Logger = testLogger(t)
	b, err := New(s, NewDeviceWriter(s, dev.bus()), o)
	if err != nil {
		t.Fatal(err)
	}
	p := connectPeer(t, br.addr, "", "")
	p.subscribe("HVAC/#")
	runBridge(t, b)
	e := &writeEnv{t: t, s: s, dev: dev, b: b, peer: p}
	e.waitSubscribed()
	return e
}

// waitSubscribed waits until the broker acknowledged the bridge's subscriptions.
func (e *writeEnv) waitSubscribed() {
	e.t.Helper()
	eventually(e.t, "the bridge's subscriptions", func() bool { return e.b.Stats().Subscribed })
}

// audited counts the audit entries made so far.
func audited(b *Bridge) int {
	st := b.Stats()
	return int(st.Writes + st.Refused + st.Failed)
}

// command publishes payload on topic and waits for n new audit entries.
func (e *writeEnv) command(topic, payload string, n int) []AuditEntry {
	e.t.Helper()
	before := audited(e.b)
	e.peer.publish(topic, payload)
	eventually(e.t, "audit entries of "+payload, func() bool { return audited(e.b) >= before+n })
	if got := audited(e.b) - before; got != n {
		e.t.Fatalf("command %s: %d audit entries, want %d: %+v", payload, got, n, e.b.AuditLog())
	}
	log := e.b.AuditLog()
	return log[len(log)-n:]
}

// image is a snapshot of the registers and coils the tests write.
type image struct {
	holding []uint16
	coils   []bool
}

func (e *writeEnv) image() image {
	return image{holding: e.dev.mem.Registers(unit, modbus.HoldingRegisters, 0, 100),
		coils: e.dev.mem.Bits(unit, modbus.Coils, 0, 20)}
}

func TestWrites(t *testing.T) {
	e := newWriteEnv(t, Options{}, nil)
	type regs struct {
		table modbus.Table
		addr  uint16
		want  any // []uint16 or []bool
	}
	for _, tc := range []struct {
		name    string
		preset  func(m *modbus.Memory)
		topic   string
		payload string
		check   []regs
	}{
		{name: "16uint", payload: `{"temperature": 21}`, check: []regs{{modbus.HoldingRegisters, 1, []uint16{21}}}},
		{name: "translation", payload: `{"mode": "FAN"}`, check: []regs{{modbus.HoldingRegisters, 3, []uint16{3}}}},
		{name: "factor", payload: `{"luminance": 450}`, check: []regs{{modbus.HoldingRegisters, 2, []uint16{45}}}},
		{name: "factor and translation", payload: `{"level": "HALF"}`, check: []regs{{modbus.HoldingRegisters, 4, []uint16{100}}}},
		{name: "factor without label", payload: `{"level": 25}`, check: []regs{{modbus.HoldingRegisters, 4, []uint16{50}}}},
		{name: "factor and offset", payload: `{"setpoint": 21.5}`, check: []regs{{modbus.HoldingRegisters, 5, []uint16{615}}}},
		{name: "16int negative", payload: `{"i16": -2}`, check: []regs{{modbus.HoldingRegisters, 10, []uint16{0xFFFE}}}},
		{name: "32int ABCD", payload: `{"i32": -100000}`, check: []regs{{modbus.HoldingRegisters, 12, []uint16{0xFFFE, 0x7960}}}},
		{name: "32int CDAB", payload: `{"i32cdab": 305419896}`, check: []regs{{modbus.HoldingRegisters, 14, []uint16{0x5678, 0x1234}}}},
		{name: "32uint BADC", payload: `{"u32badc": 305419896}`, check: []regs{{modbus.HoldingRegisters, 16, []uint16{0x3412, 0x7856}}}},
		{name: "64int DCBA", payload: `{"i64dcba": 81985529216486895}`,
			check: []regs{{modbus.HoldingRegisters, 20, []uint16{0xEFCD, 0xAB89, 0x6745, 0x2301}}}},
		{name: "64uint max exact", payload: `{"u64": 18446744073709551615}`,
			check: []regs{{modbus.HoldingRegisters, 24, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}}}},
		{name: "32float", payload: `{"f32": 1.5}`, check: []regs{{modbus.HoldingRegisters, 28, []uint16{0x3FC0, 0}}}},
		{name: "32float CDAB", payload: `{"f32cdab": -2.5}`, check: []regs{{modbus.HoldingRegisters, 30, []uint16{0, 0xC020}}}},
		{name: "64float DCBA", payload: `{"f64dcba": 1}`, check: []regs{{modbus.HoldingRegisters, 32, []uint16{0, 0, 0, 0xF03F}}}},
		{name: "16float", payload: `{"f16": 0.5}`, check: []regs{{modbus.HoldingRegisters, 36, []uint16{0x3800}}}},
		{name: "several variables", payload: `{"temperature": 22, "mode": "COLD"}`,
			check: []regs{{modbus.HoldingRegisters, 1, []uint16{22}}, {modbus.HoldingRegisters, 3, []uint16{1}}}},
		{name: "wildcard topic", topic: "HVAC/zone1/SET", payload: `{"temperature": 23}`,
			check: []regs{{modbus.HoldingRegisters, 1, []uint16{23}}}},
		{name: "bit set keeps other bits", preset: func(m *modbus.Memory) { m.SetRegisters(unit, modbus.HoldingRegisters, 40, 0xA5F0) },
			payload: `{"flag": true}`, check: []regs{{modbus.HoldingRegisters, 40, []uint16{0xA5F8}}}},
		{name: "bit clear keeps other bits", preset: func(m *modbus.Memory) { m.SetRegisters(unit, modbus.HoldingRegisters, 40, 0xFFFF) },
			payload: `{"flag": false}`, check: []regs{{modbus.HoldingRegisters, 40, []uint16{0xFFF7}}}},
		{name: "shift and mask", preset: func(m *modbus.Memory) { m.SetRegisters(unit, modbus.HoldingRegisters, 41, 0xFFFF) },
			payload: `{"nibble": 5}`, check: []regs{{modbus.HoldingRegisters, 41, []uint16{0xFF5F}}}},
		{name: "8-bit keeps high byte", preset: func(m *modbus.Memory) { m.SetRegisters(unit, modbus.HoldingRegisters, 42, 0xAB00) },
			payload: `{"lowbyte": 200}`, check: []regs{{modbus.HoldingRegisters, 42, []uint16{0xABC8}}}},
		{name: "coil", payload: `{"pump": true}`, check: []regs{{modbus.Coils, 0, []bool{true}}}},
		{name: "coil label", payload: `{"fan": "ON"}`, check: []regs{{modbus.Coils, 1, []bool{true}}}},
		{name: "coil bits", payload: `{"valves": [true, false, true, true]}`, check: []regs{{modbus.Coils, 8, []bool{true, false, true, true}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			if tc.preset != nil {
				tc.preset(e.dev.mem)
			}
			topic := tc.topic
			if topic == "" {
				topic = "HVAC/COMMAND"
			}
			as, err := ParseCommand([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			entries := e.command(topic, tc.payload, len(as))
			for _, en := range entries {
				if en.Result != ResultOK || en.Error != "" {
					t.Errorf("audit %+v: want ok", en)
				}
				if en.Source != "mqtt:"+topic || en.SlaveID != unit || en.Slave != 0 {
					t.Errorf("audit %+v: want source mqtt:%s, slave 0, slaveId %d", en, topic, unit)
				}
			}
			for _, c := range tc.check {
				var got any
				switch want := c.want.(type) {
				case []uint16:
					got = e.dev.mem.Registers(unit, c.table, c.addr, uint16(len(want)))
				case []bool:
					got = e.dev.mem.Bits(unit, c.table, c.addr, uint16(len(want)))
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s at %d = %#04x, want %#04x", c.table, c.addr, got, c.want)
				}
			}
		})
	}
}

// TestWriteAuditValues checks old and new values in the audit trail.
func TestWriteAuditValues(t *testing.T) {
	dir := t.TempDir()
	e := newWriteEnv(t, Options{AuditFile: filepath.Join(dir, "audit.jsonl"), AuditSize: 3}, nil)
	e.dev.mem.SetRegisters(unit, modbus.HoldingRegisters, 3, 2) // HEAT
	got := e.command("HVAC/COMMAND", `{"mode": "FAN"}`, 1)[0]
	if got.Old != "HEAT" || got.New != "FAN" || got.Variable != "mode" || got.Value != json.Number("FAN") && got.Value != "FAN" {
		t.Errorf("audit %+v: want mode HEAT → FAN", got)
	}
	got = e.command("HVAC/COMMAND", `{"setpoint": 21.5}`, 1)[0]
	if old, ok := got.Old.(float64); !ok || old != -40 {
		t.Errorf("old %v, want -40", got.Old)
	}
	if n, ok := got.New.(float64); !ok || n < 21.499 || n > 21.501 {
		t.Errorf("new %v, want 21.5", got.New)
	}
	e.command("HVAC/COMMAND", `{"pump": "on"}`, 1)
	e.command("HVAC/COMMAND", `{"pump": "off", "fan": "OFF"}`, 2)

	log := e.b.AuditLog()
	if len(log) != 3 {
		t.Fatalf("AuditLog holds %d entries, want AuditSize 3", len(log))
	}
	if log[0].Variable != "pump" || log[0].New != true || log[1].Variable != "pump" || log[1].New != false || log[2].Variable != "fan" || log[2].New != "OFF" {
		t.Errorf("ring = %+v, want the last three: pump on, pump off, fan OFF", log)
	}
	// The file has every entry, the ones the ring forgot included.
	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []AuditEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var en AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &en); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, en)
	}
	var vars []string
	for _, en := range lines {
		vars = append(vars, en.Variable)
	}
	if want := []string{"mode", "setpoint", "pump", "pump", "fan"}; !slices.Equal(vars, want) {
		t.Errorf("audit file variables %v, want %v", vars, want)
	}
	last := lines[len(lines)-1]
	if last.Result != ResultOK || last.Old != "OFF" || last.Time.IsZero() || last.Source != "mqtt:HVAC/COMMAND" {
		t.Errorf("last audit line %+v", last)
	}
}

func TestWriteRefused(t *testing.T) {
	e := newWriteEnv(t, Options{}, nil)
	for _, tc := range []struct {
		name    string
		payload string
		reports map[string]string // variable → error substring
		is      error             // errors.Is of the offending variable's error, checked via Apply
	}{
		{"unknown variable", `{"nope": 1}`, map[string]string{"nope": "unknown variable"}, ErrUnknownVariable},
		{"input register", `{"inputReg": 1}`, map[string]string{"inputReg": "read-only"}, ErrReadOnly},
		{"discrete input", `{"alarm": true}`, map[string]string{"alarm": "read-only"}, ErrReadOnly},
		{"writable false", `{"locked": 1}`, map[string]string{"locked": "not writable"}, ErrNotWritable},
		{"above max", `{"bounded": 100}`, map[string]string{"bounded": "above max 30"}, ErrOutOfBounds},
		{"below min", `{"bounded": 1}`, map[string]string{"bounded": "below min 5"}, ErrOutOfBounds},
		{"label above max", `{"boundedMode": "FAN"}`, map[string]string{"boundedMode": "above max 2"}, ErrOutOfBounds},
		{"datatype range", `{"i16": 40000}`, map[string]string{"i16": "out of range"}, codec.ErrRange},
		{"negative unsigned", `{"temperature": -1}`, map[string]string{"temperature": "out of range"}, codec.ErrRange},
		{"float overflow", `{"f32": 1e39}`, map[string]string{"f32": "overflows"}, codec.ErrRange},
		{"unknown label", `{"mode": "TURBO"}`, map[string]string{"mode": "unknown translation label"}, codec.ErrUnknownLabel},
		{"not integral", `{"temperature": 21.5}`, map[string]string{"temperature": "not an integer"}, codec.ErrNotIntegral},
		{"coil not 0 or 1", `{"pump": 2}`, map[string]string{"pump": "out of range"}, codec.ErrRange},
		{"coil bits count", `{"valves": [true]}`, map[string]string{"valves": "out of range"}, codec.ErrRange},
		{"wrong type", `{"temperature": "warm"}`, map[string]string{"temperature": "wrong value type"}, codec.ErrValueType},
		{"null", `{"temperature": null}`, map[string]string{"temperature": "wrong value type"}, codec.ErrValueType},
		{"one bad of several", `{"temperature": 21, "bounded": 100, "mode": "FAN"}`,
			map[string]string{"bounded": "above max", "temperature": "another variable of the command was refused (bounded)",
				"mode": "another variable of the command was refused"}, ErrOutOfBounds},
		{"not JSON", `temperature=21`, map[string]string{"": "malformed command"}, nil},
		{"array", `[1, 2]`, map[string]string{"": "malformed command"}, nil},
		{"empty object", `{}`, map[string]string{"": "no variable"}, nil},
		{"repeated variable", `{"temperature": 1, "temperature": 2}`, map[string]string{"": "given twice"}, nil},
		{"trailing data", `{"temperature": 1} {}`, map[string]string{"": "data after"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.peer.drain()
			before := e.image()
			stats := e.b.Stats()
			entries := e.command("HVAC/COMMAND", tc.payload, len(tc.reports))
			for _, en := range entries {
				if en.Result != ResultRefused || en.Old != nil || en.New != nil {
					t.Errorf("audit %+v: want refused with no old/new value", en)
				}
			}
			got := map[string]ErrorReport{}
			for range tc.reports {
				m := e.peer.next("HVAC/COMMAND/error")
				var r ErrorReport
				if err := json.Unmarshal(m.Payload, &r); err != nil {
					t.Fatalf("error report %s: %v", m.Payload, err)
				}
				got[r.Variable] = r
			}
			for v, want := range tc.reports {
				r, ok := got[v]
				if !ok {
					t.Errorf("no error report for %q; got %+v", v, got)
					continue
				}
				if r.Topic != "HVAC/COMMAND" || !strings.Contains(r.Error, want) || r.Time == "" {
					t.Errorf("report %+v: want topic HVAC/COMMAND, error containing %q, a time", r, want)
				}
				if v == "" && r.Value != tc.payload && !strings.HasPrefix(tc.payload, "{") && !strings.HasPrefix(tc.payload, "[") {
					t.Errorf("report value %v, want the payload %q", r.Value, tc.payload)
				}
			}
			if after := e.image(); !reflect.DeepEqual(after, before) {
				t.Errorf("device image changed by a refused command:\nbefore %v\nafter  %v", before, after)
			}
			st := e.b.Stats()
			if st.Writes != stats.Writes || st.Refused != stats.Refused+uint64(len(tc.reports)) {
				t.Errorf("stats %+v after %+v: want %d more refused, no write", st, stats, len(tc.reports))
			}
			if tc.is != nil {
				as, err := ParseCommand([]byte(tc.payload))
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, r := range e.b.Apply(context.Background(), "test", 0, as) {
					found = found || errors.Is(r.Err, tc.is)
				}
				if !found {
					t.Errorf("Apply: no error is %v", tc.is)
				}
			}
			if after := e.image(); !reflect.DeepEqual(after, before) {
				t.Errorf("device image changed by Apply of a refused command")
			}
		})
	}
}

// TestWriteVerifyFails: a device that acknowledges writes but ignores them.
func TestWriteVerifyFails(t *testing.T) {
	e := newWriteEnv(t, Options{}, nil)
	e.dev.mem.SetRegisters(unit, modbus.HoldingRegisters, 1, 20)
	e.dev.mem.OnWrite(func(u byte, table modbus.Table, addr, qty uint16) {
		if table == modbus.HoldingRegisters && addr == 1 {
			e.dev.mem.SetRegisters(u, table, addr, 20) // the device keeps its value
		}
	})
	en := e.command("HVAC/COMMAND", `{"temperature": 30}`, 1)[0]
	if en.Result != ResultFailed || !strings.Contains(en.Error, "read-back verification failed") || en.Old != 20.0 || en.New != 20.0 {
		t.Errorf("audit %+v: want failed verification, old and new 20", en)
	}
	var r ErrorReport
	if err := json.Unmarshal(e.peer.next("HVAC/COMMAND/error").Payload, &r); err != nil {
		t.Fatal(err)
	}
	if r.Variable != "temperature" || !strings.Contains(r.Error, "read-back verification failed") {
		t.Errorf("report %+v", r)
	}
	if st := e.b.Stats(); st.Failed != 1 {
		t.Errorf("stats %+v: want 1 failed", st)
	}
}

// TestWriteDeviceErrorSkipsRest: a write the device refuses stops the command.
func TestWriteDeviceErrorSkipsRest(t *testing.T) {
	e := newWriteEnv(t, Options{}, nil)
	e.dev.mem.SetRegisters(unit, modbus.HoldingRegisters, 1, 20)
	es := e.command("HVAC/COMMAND", `{"faraway": 1, "temperature": 9}`, 2)
	if es[0].Variable != "faraway" || es[0].Result != ResultFailed || !strings.Contains(es[0].Error, "illegal data address") {
		t.Errorf("audit %+v: want faraway failed with illegal data address", es[0])
	}
	if es[1].Variable != "temperature" || es[1].Result != ResultSkipped || !strings.Contains(es[1].Error, "not attempted") {
		t.Errorf("audit %+v: want temperature skipped", es[1])
	}
	reports := map[string]bool{}
	for range 2 {
		var r ErrorReport
		if err := json.Unmarshal(e.peer.next("HVAC/COMMAND/error").Payload, &r); err != nil {
			t.Fatal(err)
		}
		reports[r.Variable] = true
	}
	if !reports["faraway"] || !reports["temperature"] {
		t.Errorf("reports for %v, want faraway and temperature", reports)
	}
	if got := e.dev.mem.Registers(unit, modbus.HoldingRegisters, 1, 1)[0]; got != 20 {
		t.Errorf("temperature register = %d, want 20 (skipped)", got)
	}
}

// TestNoCommandLoop: with a subscription that covers the bridge's own
// publication and error topics, neither is taken for a command.
func TestNoCommandLoop(t *testing.T) {
	e := newWriteEnv(t, Options{}, func(s *settings.Settings) {
		s.ModbusSlaves[0].MQTTSubscriptions = []string{"HVAC/#"}
	})
	start := e.b.Stats().Commands
	e.command("HVAC/X", `{"nope": 1}`, 1)
	e.peer.next("HVAC/X/error")
	e.b.Publish(0, measurements(e.b.o.Now(), nil))
	e.peer.next("HVAC/STATUS")
	e.command("HVAC/X", `{"temperature": 2}`, 1)
	if got := e.b.Stats().Commands - start; got != 2 {
		t.Errorf("%d commands handled, want 2 (own messages must not come back as commands)", got)
	}
}

func TestParseCommandNumbers(t *testing.T) {
	as, err := ParseCommand([]byte(`{"b": 18446744073709551615, "a": {"x": 1.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Variable != "b" || as[0].Value != json.Number("18446744073709551615") || as[1].Variable != "a" {
		t.Errorf("ParseCommand = %+v: want order kept and numbers exact", as)
	}
}

func TestApplyWithoutWriter(t *testing.T) {
	s := loadSettings(t, "writes.json", "127.0.0.1:1")
	s.ModbusSlaves[0].MQTTSubscriptions = nil
	b, err := New(s, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := b.Apply(context.Background(), "test", 0, []Assignment{{"temperature", 1.0}})
	if !errors.Is(rs[0].Err, ErrNotWritable) {
		t.Errorf("Apply without a writer: %v, want ErrNotWritable", rs[0].Err)
	}
	rs = b.Apply(context.Background(), "test", 3, []Assignment{{"temperature", 1.0}})
	if !errors.Is(rs[0].Err, ErrNotWritable) {
		t.Errorf("Apply without a writer: %v", rs[0].Err)
	}
}
