package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/modbus"
)

// startModbus serves mem over loopback TCP until the test ends.
func startModbus(t *testing.T, mem *modbus.Memory) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &modbus.Server{Handler: mem, Logger: slog.New(slog.DiscardHandler)}
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "tcp://" + l.Addr().String()
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(context.Background(), Env{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestModbusRead(t *testing.T) {
	mem := modbus.NewMemory()
	f := math.Float32bits(21.5)
	hi, lo := uint16(f>>16), uint16(f)
	mem.SetRegisters(1, modbus.HoldingRegisters, 100, hi, lo, lo, hi)
	mem.SetRegisters(1, modbus.HoldingRegisters, 200, 1, 2, 3, 0xFFFF)
	mem.SetRegisters(2, modbus.InputRegisters, 10, 0x4869, 0x2100) // "Hi!"
	mem.SetBits(1, modbus.Coils, 5, true, false, true)
	mem.SetBits(1, modbus.DiscreteInputs, 0, false, true)
	url := startModbus(t, mem)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"32float", []string{"--table", "holding", "--address", "100", "--datatype", "32float"}, "21.5\n"},
		{"32float CDAB", []string{"--table", "holding", "--address", "102", "--datatype", "32float", "--order", "CDAB"}, "21.5\n"},
		{"count", []string{"--table", "holding", "--address", "200", "--datatype", "16uint", "--count", "3"}, "1\n2\n3\n"},
		{"16int", []string{"--table", "holding", "--address", "203", "--datatype", "16int"}, "-1\n"},
		{"default datatype", []string{"--table", "holding", "--address", "201"}, "2\n"},
		{"bit address", []string{"--table", "holding", "--address", "203.15"}, "true\n"},
		{"json", []string{"--table", "holding", "--address", "200", "--datatype", "16uint", "--count", "2", "--json"}, `{"values":[1,2]}` + "\n"},
		{"string", []string{"--slave", "2", "--table", "input", "--address", "10", "--datatype", "string", "--datasize", "2"}, "Hi!\n"},
		{"coils", []string{"--table", "coil", "--address", "5", "--count", "3", "--json"}, `{"values":[true,false,true]}` + "\n"},
		{"discrete bits", []string{"--table", "discrete", "--address", "0", "--datatype", "bits", "--datasize", "2"}, "0,1\n"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(append([]string{"modbus", "read", "--url", url}, tt.args...)...)
		if code != 0 || out != tt.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, %q", tt.name, code, out, errOut, tt.want)
		}
	}
	// --json is one parseable document.
	_, out, _ := runCLI("modbus", "read", "--url", url, "--table", "holding", "--address", "100", "--datatype", "32float", "--json")
	var doc struct{ Values []float64 }
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !reflect.DeepEqual(doc.Values, []float64{21.5}) {
		t.Errorf("json %q: %+v, %v", out, doc, err)
	}
}

func TestModbusWrite(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 50, 0xAB00)
	url := startModbus(t, mem)
	write := func(args ...string) {
		t.Helper()
		code, out, errOut := runCLI(append([]string{"modbus", "write", "--url", url}, args...)...)
		if code != 0 {
			t.Fatalf("write %v: exit %d, %q %q", args, code, out, errOut)
		}
	}
	write("--table", "holding", "--address", "10", "--datatype", "32float", "--value", "21.5")
	f := math.Float32bits(21.5)
	if got := mem.Registers(1, modbus.HoldingRegisters, 10, 2); !reflect.DeepEqual(got, []uint16{uint16(f >> 16), uint16(f)}) {
		t.Errorf("32float: %04X", got)
	}
	write("--table", "holding", "--address", "20", "--datatype", "32int", "--order", "DCBA", "--value", "-2")
	if got := mem.Registers(1, modbus.HoldingRegisters, 20, 2); !reflect.DeepEqual(got, []uint16{0xFEFF, 0xFFFF}) {
		t.Errorf("32int DCBA: %04X", got)
	}
	write("--slave", "1", "--table", "holding", "--address", "30", "--datatype", "16int", "--value", "-5")
	if got := mem.Registers(1, modbus.HoldingRegisters, 30, 1); got[0] != 0xFFFB {
		t.Errorf("16int: %04X", got)
	}
	// 8uint covers the low byte only: read-modify-write keeps the high one.
	write("--table", "holding", "--address", "50", "--datatype", "8uint", "--value", "7")
	if got := mem.Registers(1, modbus.HoldingRegisters, 50, 1); got[0] != 0xAB07 {
		t.Errorf("8uint: %04X", got)
	}
	write("--table", "coil", "--address", "3", "--value", "true")
	write("--table", "coil", "--address", "10", "--datatype", "bits", "--datasize", "3", "--value", "1,0,1")
	if got := mem.Bits(1, modbus.Coils, 3, 1); !got[0] {
		t.Errorf("coil 3: %v", got)
	}
	if got := mem.Bits(1, modbus.Coils, 10, 3); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("coils 10..12: %v", got)
	}
	write("--table", "holding", "--address", "60", "--datatype", "string", "--datasize", "2", "--value", "ok")
	if got := mem.Registers(1, modbus.HoldingRegisters, 60, 2); !reflect.DeepEqual(got, []uint16{0x6F6B, 0}) {
		t.Errorf("string: %04X", got)
	}
}

func TestModbusErrors(t *testing.T) {
	mem := modbus.NewMemory()
	mem.Restrict(1, modbus.HoldingRegisters, modbus.Range{Start: 0, Count: 10})
	url := startModbus(t, mem)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "tcp://" + l.Addr().String()
	_ = l.Close()

	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no url", []string{"modbus", "read", "--table", "holding", "--address", "0"}, 2, "missing --url"},
		{"no table", []string{"modbus", "read", "--url", url, "--address", "0"}, 2, "missing --table"},
		{"bad table", []string{"modbus", "read", "--url", url, "--table", "holdings", "--address", "0"}, 2, `--table "holdings"`},
		{"bad address", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "x"}, 2, "--address"},
		{"bad datatype", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "0", "--datatype", "32floats"}, 2, "--datatype"},
		{"bad order", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "0", "--order", "ABDC"}, 2, "--order"},
		{"string without size", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "0", "--datatype", "string"}, 2, "--datasize"},
		{"bad count", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "0", "--count", "0"}, 2, "--count"},
		{"bad slave", []string{"modbus", "read", "--url", url, "--slave", "300", "--table", "holding", "--address", "0"}, 2, "--slave"},
		{"bad url", []string{"modbus", "read", "--url", "udp://x:1", "--table", "holding", "--address", "0"}, 2, "unknown scheme"},
		{"bad serial url", []string{"modbus", "read", "--url", "rtu:///dev/ttyUSB0?baudrate=9600", "--table", "holding", "--address", "0"}, 2, "baudrate"},
		{"stray argument", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "0", "extra"}, 2, "unexpected argument"},
		{"illegal address", []string{"modbus", "read", "--url", url, "--table", "holding", "--address", "100"}, 1, "illegal data address"},
		{"refused", []string{"modbus", "read", "--url", closed, "--table", "holding", "--address", "0", "--timeout", "200ms"}, 1, "refused"},
		{"write input", []string{"modbus", "write", "--url", url, "--table", "input", "--address", "0", "--value", "1"}, 2, `--table "input"`},
		{"write no value", []string{"modbus", "write", "--url", url, "--table", "holding", "--address", "0"}, 2, "missing --value"},
		{"write out of range", []string{"modbus", "write", "--url", url, "--table", "holding", "--address", "0", "--datatype", "16uint", "--value", "70000"}, 2, "out of range"},
		{"write not a number", []string{"modbus", "write", "--url", url, "--table", "holding", "--address", "0", "--datatype", "16int", "--value", "abc"}, 2, "--value"},
		{"write illegal address", []string{"modbus", "write", "--url", url, "--table", "holding", "--address", "100", "--value", "1"}, 1, "illegal data address"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.name, code, out, errOut, tt.code, tt.msg)
		}
	}
}

// TestModbusReadTimeout: --timeout bounds the wait for a silent device.
func TestModbusReadTimeout(t *testing.T) {
	mem := modbus.NewMemory()
	mem.SetUnits(1) // unit 9 gets no answer
	url := startModbus(t, mem)
	start := time.Now()
	code, _, errOut := runCLI("modbus", "read", "--url", url, "--slave", "9", "--table", "holding", "--address", "0", "--timeout", "150ms")
	if code != 1 || !strings.Contains(errOut, "no response in time") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}
