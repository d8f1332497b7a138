package modbus_test

// Interop tests: our client against a pymodbus server, and mbpoll (libmodbus)
// against our server, over TCP and over RTU on a socat pty pair. They skip
// when python3 with pymodbus, socat or mbpoll are missing (install them with
// scripts/install-test-deps.sh), and fail instead when
// GRIDEDGE_REQUIRE_INTEROP=1, as in CI.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
)

// needTool skips (or fails, with GRIDEDGE_REQUIRE_INTEROP=1) when ok is false.
func needTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	msg := what + " is not installed: run scripts/install-test-deps.sh"
	if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
		t.Fatal(msg + " (GRIDEDGE_REQUIRE_INTEROP=1)")
	}
	t.Skip(msg)
}

func haveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// pymodbusVersion returns the installed pymodbus version, or "".
func pymodbusVersion() string {
	out, err := exec.Command("python3", "-c", "import pymodbus; print(pymodbus.__version__)").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// startProcess starts cmd, logging its output to the test, and kills it
// (by its own pid) when the test ends.
func startProcess(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Logf("%s: %s", filepath.Base(name), sc.Text())
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	return cmd
}

// socatPair starts socat with two linked ptys and returns their paths.
func socatPair(t *testing.T) (a, b string) {
	t.Helper()
	needTool(t, haveCommand("socat"), "socat (apt-get install socat)")
	dir := t.TempDir()
	a, b = filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	startProcess(t, "socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, errA := os.Stat(a)
		_, errB := os.Stat(b)
		if errA == nil && errB == nil {
			return a, b
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat did not create %s and %s", a, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// typedValue is one value the pymodbus script encodes with Python's struct.
type typedValue struct {
	Table    string `json:"table"`
	Address  int    `json:"address"`
	Datatype string `json:"datatype"`
	Order    string `json:"order"`
	Value    any    `json:"value"`
	Datasize int    `json:"datasize,omitempty"`
}

// interopValues returns every datatype in every byte order, at consecutive
// addresses from 0, and the number of registers they take.
func interopValues() ([]typedValue, int) {
	type sample struct {
		dt   string
		v    any
		size int
	}
	samples := []sample{
		{"8int", -5, 1}, {"8uint", 200, 1},
		{"16int", -12345, 1}, {"16uint", 54321, 1},
		{"32int", -123456789, 2}, {"32uint", 3000000000, 2},
		{"16float", 1.5, 1}, {"32float", 21.5, 2},
		{"48int", -123456789012, 3}, {"48uint", 200000000000000, 3},
		{"64int", -1234567890123, 4}, {"64uint", 9007199254740993, 4}, {"64float", -1234.5678, 4},
		{"16bcd", 1234, 1}, {"32bcd", 12345678, 2},
		{"string", "GridEdge!", 5},
	}
	var out []typedValue
	addr := 0
	for _, s := range samples {
		for _, order := range settings.Orders {
			tv := typedValue{Table: "holding", Address: addr, Datatype: s.dt, Order: order, Value: s.v}
			if s.dt == "string" {
				tv.Datasize = s.size
			}
			out = append(out, tv)
			addr += s.size
		}
	}
	// The same values in the input table, ABCD only, and a bits register.
	for _, s := range samples[:8] {
		out = append(out, typedValue{Table: "input", Address: addr, Datatype: s.dt, Order: "ABCD", Value: s.v})
		addr += s.size
	}
	out = append(out, typedValue{Table: "holding", Address: addr, Datatype: "bits", Order: "ABCD",
		Value: []bool{true, false, true, true, false, false, false, false, false, false, false, false, false, false, false, true}})
	return out, addr + 1
}

// startPymodbus writes the image and starts the pymodbus server script
// with the given transport arguments, waiting for "READY".
func startPymodbus(t *testing.T, image map[string]any, where ...string) {
	t.Helper()
	needTool(t, haveCommand("python3"), "python3")
	ver := pymodbusVersion()
	needTool(t, ver != "", "pymodbus (pip install pymodbus==3.16.1 pyserial)")
	t.Logf("pymodbus %s", ver)
	script, err := filepath.Abs("../../scripts/interop/pymodbus_server.py")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(image)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "image.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{script, "--image", file}, where...)
	cmd := exec.Command("python3", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pymodbus stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "READY" {
				ready <- true
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("pymodbus server exited: %s", stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("pymodbus server not ready: %s", stderr.String())
	}
}

func TestPymodbusInterop(t *testing.T) {
	vals, nregs := interopValues()
	image := func() map[string]any {
		return map[string]any{
			"1": map[string]any{
				"holding":  map[string]any{"start": 0, "values": make([]int, nregs+50)},
				"input":    map[string]any{"start": 0, "values": make([]int, nregs)},
				"coils":    map[string]any{"start": 0, "values": []bool{true, false, true, true, false, false, true, false, true, true}},
				"discrete": map[string]any{"start": 0, "values": []bool{false, true, true, false, true}},
				"vars":     vals,
			},
		}
	}
	t.Run("tcp", func(t *testing.T) {
		port := freePort(t)
		startPymodbus(t, image(), "--tcp", strconv.Itoa(port))
		checkPymodbus(t, fmt.Sprintf("tcp://127.0.0.1:%d", port), vals, nregs)
	})
	t.Run("rtu", func(t *testing.T) {
		a, b := socatPair(t)
		// pyserial cannot set parity on a pty: use 8N1 on both ends.
		startPymodbus(t, image(), "--rtu", a, "--baud", "19200", "--parity", "N", "--stopbits", "1")
		checkPymodbus(t, "rtu://"+b+"?baud=19200&parity=N&databits=8&stopbits=1", vals, nregs)
	})
}

func checkPymodbus(t *testing.T, url string, vals []typedValue, nregs int) {
	c, err := modbus.NewClient(url, modbus.ClientOptions{Timeout: 2 * time.Second, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	// Every datatype and byte order, encoded by Python, decoded by us.
	for _, tv := range vals {
		v := &settings.Variable{Name: fmt.Sprintf("%s/%s@%d", tv.Datatype, tv.Order, tv.Address), Type: tv.Table,
			Address: settings.Address{Register: uint16(tv.Address)}, Datatype: tv.Datatype, Order: tv.Order, Datasize: tv.Datasize}
		read := c.ReadHoldingRegisters
		if tv.Table == "input" {
			read = c.ReadInputRegisters
		}
		regs, err := read(ctx, 1, v.Address.Register, uint16(codec.SpanOf(v)))
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		got, err := codec.Decode(v, "", regs)
		if err != nil {
			t.Errorf("%s: decode %04X: %v", v.Name, regs, err)
			continue
		}
		if !sameValue(got, tv.Value) {
			t.Errorf("%s: registers %04X decode to %v (%T), want %v", v.Name, regs, got, got, tv.Value)
		}
	}
	// The whole block in one request.
	if _, err := c.ReadHoldingRegisters(ctx, 1, 0, uint16(min(nregs, modbus.MaxReadRegisters))); err != nil {
		t.Errorf("read %d registers: %v", min(nregs, modbus.MaxReadRegisters), err)
	}

	coils, err := c.ReadCoils(ctx, 1, 0, 10)
	if want := []bool{true, false, true, true, false, false, true, false, true, true}; err != nil || !reflect.DeepEqual(coils, want) {
		t.Errorf("ReadCoils = %v, %v; want %v", coils, err, want)
	}
	di, err := c.ReadDiscreteInputs(ctx, 1, 0, 5)
	if want := []bool{false, true, true, false, true}; err != nil || !reflect.DeepEqual(di, want) {
		t.Errorf("ReadDiscreteInputs = %v, %v; want %v", di, err, want)
	}

	// Writes, read back from pymodbus.
	w := uint16(nregs + 10)
	if err := c.WriteSingleCoil(ctx, 1, 1, true); err != nil {
		t.Errorf("FC 5: %v", err)
	}
	if err := c.WriteMultipleCoils(ctx, 1, 4, []bool{true, true, false}); err != nil {
		t.Errorf("FC 15: %v", err)
	}
	coils, err = c.ReadCoils(ctx, 1, 0, 8)
	if want := []bool{true, true, true, true, true, true, false, false}; err != nil || !reflect.DeepEqual(coils, want) {
		t.Errorf("coils after writes = %v, %v; want %v", coils, err, want)
	}
	if err := c.WriteSingleRegister(ctx, 1, w, 0xBEEF); err != nil {
		t.Errorf("FC 6: %v", err)
	}
	if err := c.WriteMultipleRegisters(ctx, 1, w+1, []uint16{1, 2, 3}); err != nil {
		t.Errorf("FC 16: %v", err)
	}
	regs, err := c.ReadHoldingRegisters(ctx, 1, w, 4)
	if want := []uint16{0xBEEF, 1, 2, 3}; err != nil || !reflect.DeepEqual(regs, want) {
		t.Errorf("registers after writes = %04X, %v; want %04X", regs, err, want)
	}
	regs, err = c.ReadWriteMultipleRegisters(ctx, 1, w, 5, w+4, []uint16{0x1234})
	if want := []uint16{0xBEEF, 1, 2, 3, 0x1234}; err != nil || !reflect.DeepEqual(regs, want) {
		t.Errorf("FC 23 = %04X, %v; want %04X", regs, err, want)
	}
	// A value written with our encoder, read back.
	v := &settings.Variable{Name: "w", Type: "holding", Address: settings.Address{Register: w + 5}, Datatype: "32float", Order: "CDAB"}
	enc, err := codec.Encode(v, "", 230.25)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMultipleRegisters(ctx, 1, w+5, enc); err != nil {
		t.Errorf("FC 16 float: %v", err)
	}
	if regs, err := c.ReadHoldingRegisters(ctx, 1, w+5, 2); err != nil {
		t.Error(err)
	} else if got, _ := codec.Decode(v, "", regs); got != 230.25 {
		t.Errorf("float written and read back = %v", got)
	}

	// Exception responses.
	if _, err := c.ReadHoldingRegisters(ctx, 1, uint16(nregs+100), 2); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("read past the block: err = %v, want illegal data address", err)
	}
	if err := c.WriteSingleRegister(ctx, 1, uint16(nregs+100), 1); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("write past the block: err = %v, want illegal data address", err)
	}
	if _, err := c.ReadCoils(ctx, 1, 50, 1); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("read coils past the block: err = %v, want illegal data address", err)
	}
}

// sameValue compares a decoded value with what the script was given.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case int:
		switch g := got.(type) {
		case float64:
			return g == float64(w)
		case int64:
			return g == int64(w)
		case uint64:
			return w >= 0 && g == uint64(w)
		}
	case float64:
		g, ok := got.(float64)
		return ok && math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
	case string:
		return got == w
	case []bool:
		return reflect.DeepEqual(got, w)
	}
	return false
}

// mbpollLine matches one value of mbpoll's output: "[1]: 	1234".
var mbpollLine = regexp.MustCompile(`(?m)^\[(\d+)\]:\s+(-?\d+)`)

// mbpoll runs mbpoll once and returns the values it printed by reference.
func mbpoll(t *testing.T, args ...string) map[int]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mbpoll", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	vals := map[int]int{}
	for _, m := range mbpollLine.FindAllStringSubmatch(string(out), -1) {
		ref, _ := strconv.Atoi(m[1])
		v, _ := strconv.Atoi(m[2])
		vals[ref] = v
	}
	return vals
}

func TestMbpollInterop(t *testing.T) {
	needTool(t, haveCommand("mbpoll"), "mbpoll (apt-get install mbpoll)")
	mem := modbus.NewMemory()
	mem.SetRegisters(1, modbus.HoldingRegisters, 0, 1234, 0xFFFF, 42)
	mem.SetRegisters(1, modbus.InputRegisters, 10, 7, 8)
	mem.SetBits(1, modbus.Coils, 0, true, false, true)
	mem.SetBits(1, modbus.DiscreteInputs, 0, false, true)
	srv := &modbus.Server{Handler: mem, Logger: logger(t), Units: []byte{1}}

	check := func(t *testing.T, conn []string) {
		// mbpoll references are 1-based unless -0: address 0 is reference 1.
		args := func(more ...string) []string { return append(append(more, "-1", "-q"), conn...) }
		if got := mbpoll(t, args("-a", "1", "-t", "4", "-r", "1", "-c", "3")...); !reflect.DeepEqual(got, map[int]int{1: 1234, 2: 65535, 3: 42}) {
			t.Errorf("holding registers: %v", got)
		}
		if got := mbpoll(t, args("-a", "1", "-t", "3", "-0", "-r", "10", "-c", "2")...); !reflect.DeepEqual(got, map[int]int{10: 7, 11: 8}) {
			t.Errorf("input registers: %v", got)
		}
		if got := mbpoll(t, args("-a", "1", "-t", "0", "-r", "1", "-c", "3")...); !reflect.DeepEqual(got, map[int]int{1: 1, 2: 0, 3: 1}) {
			t.Errorf("coils: %v", got)
		}
		if got := mbpoll(t, args("-a", "1", "-t", "1", "-r", "1", "-c", "2")...); !reflect.DeepEqual(got, map[int]int{1: 0, 2: 1}) {
			t.Errorf("discrete inputs: %v", got)
		}
		// Write a register (FC 6) and two (FC 16).
		write := append([]string{"-a", "1", "-t", "4", "-r", "21"}, conn...)
		mbpoll(t, append(write, "4321")...)
		if got := mem.Registers(1, modbus.HoldingRegisters, 20, 1); got[0] != 4321 {
			t.Errorf("register 20 after mbpoll write = %d, want 4321", got[0])
		}
		write = append([]string{"-a", "1", "-t", "4", "-r", "31"}, conn...)
		mbpoll(t, append(write, "5", "6")...)
		if got := mem.Registers(1, modbus.HoldingRegisters, 30, 2); !reflect.DeepEqual(got, []uint16{5, 6}) {
			t.Errorf("registers 30-31 after mbpoll write = %v", got)
		}
	}

	t.Run("tcp", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, l) }()
		defer func() { cancel(); <-done }()
		port := l.Addr().(*net.TCPAddr).Port
		check(t, []string{"-m", "tcp", "-p", strconv.Itoa(port), "127.0.0.1"})
	})
	t.Run("rtu", func(t *testing.T) {
		a, b := socatPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.ListenAndServe(ctx, "rtu://"+a+"?baud=19200&parity=E&databits=8&stopbits=1") }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ListenAndServe: %v", err)
			}
		}()
		check(t, []string{"-m", "rtu", "-b", "19200", "-P", "even", "-d", "8", "-s", "1", b})
	})
}
