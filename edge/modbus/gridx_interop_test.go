package modbus_test

// Interop with a second, independent Modbus implementation: the client of
// github.com/grid-x/modbus (a test-only dependency) against our Server over
// Modbus TCP, RTU over TCP, and RTU and ASCII on a socat pty pair. Every
// function code grid-x's client offers is sent; values must round-trip
// through our server's Memory and exceptions must reach grid-x as Modbus
// exceptions. grid-x has no Read Device Identification (FC 43/14), and our
// Memory does not serve Mask Write Register (FC 22) or Read FIFO Queue
// (FC 24): those two must come back as IllegalFunction exceptions.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	gridx "github.com/grid-x/modbus"

	"github.com/gridedge/gridedge/edge/modbus"
)

// gridxTimeout bounds every grid-x request; our server answers in
// microseconds, so only a lost frame reaches it.
const gridxTimeout = 2 * time.Second

// gridxLogger logs grid-x's frame traces to the test.
type gridxLogger struct{ t *testing.T }

func (l gridxLogger) Printf(format string, v ...any) {
	l.t.Helper()
	l.t.Log("grid-x: " + strings.TrimRight(fmt.Sprintf(format, v...), "\n"))
}

// serveForGridx runs serve until the test ends, checking it returns nil.
func serveForGridx(t *testing.T, what string, serve func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s returned %v, want nil", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s did not return after cancel", what)
		}
	})
}

// listenLoopback returns a TCP listener on a free loopback port.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	return l
}

// gridxPeer is one transport on which grid-x's client meets our server.
type gridxPeer struct {
	name string
	// connect serves srv on a fresh endpoint and returns a grid-x handler
	// for unit 1 there; both stop when the test ends.
	connect func(t *testing.T, srv *modbus.Server) gridx.ClientHandler
}

func gridxPeers() []gridxPeer {
	return []gridxPeer{
		{"tcp", func(t *testing.T, srv *modbus.Server) gridx.ClientHandler {
			l := listenLoopback(t)
			serveForGridx(t, "Serve", func(ctx context.Context) error { return srv.Serve(ctx, l) })
			h := gridx.NewTCPClientHandler(l.Addr().String())
			h.SlaveID, h.Timeout, h.IdleTimeout, h.Logger = 1, gridxTimeout, 0, gridxLogger{t}
			return h
		}},
		{"rtuovertcp", func(t *testing.T, srv *modbus.Server) gridx.ClientHandler {
			l := listenLoopback(t)
			serveForGridx(t, "ServeRTUOverTCP", func(ctx context.Context) error { return srv.ServeRTUOverTCP(ctx, l) })
			h := gridx.NewRTUOverTCPClientHandler(l.Addr().String())
			h.SlaveID, h.Timeout, h.IdleTimeout, h.Logger = 1, gridxTimeout, 0, gridxLogger{t}
			return h
		}},
		{"rtu", func(t *testing.T, srv *modbus.Server) gridx.ClientHandler {
			a, b := socatPair(t)
			url := "rtu://" + a + "?baud=19200&parity=E&databits=8&stopbits=1"
			serveForGridx(t, "ListenAndServe("+url+")", func(ctx context.Context) error { return srv.ListenAndServe(ctx, url) })
			h := gridx.NewRTUClientHandler(b)
			h.BaudRate, h.DataBits, h.Parity, h.StopBits = 19200, 8, "E", 1
			h.SlaveID, h.Timeout, h.IdleTimeout, h.Logger = 1, gridxTimeout, 0, gridxLogger{t}
			return h
		}},
		{"ascii", func(t *testing.T, srv *modbus.Server) gridx.ClientHandler {
			a, b := socatPair(t)
			url := "ascii://" + a + "?baud=19200&parity=E&databits=7&stopbits=1"
			serveForGridx(t, "ListenAndServe("+url+")", func(ctx context.Context) error { return srv.ListenAndServe(ctx, url) })
			h := gridx.NewASCIIClientHandler(b)
			h.BaudRate, h.DataBits, h.Parity, h.StopBits = 19200, 7, "E", 1
			h.SlaveID, h.Timeout, h.IdleTimeout, h.Logger = 1, gridxTimeout, 0, gridxLogger{t}
			return h
		}},
	}
}

// gridxMemory is the device image every transport starts from: unit 1,
// holding registers 0-99 and coils 0-99 valid, other tables unrestricted.
func gridxMemory() *modbus.Memory {
	mem := modbus.NewMemory()
	mem.SetBits(1, modbus.Coils, 0, true, false, true, true, false, false, true, false, true, true)
	mem.SetBits(1, modbus.DiscreteInputs, 3, false, true, true, false, true)
	mem.SetRegisters(1, modbus.HoldingRegisters, 10, 0x1234, 0xBEEF, 0x0001)
	mem.SetRegisters(1, modbus.HoldingRegisters, 60, 0x00F2)
	mem.SetRegisters(1, modbus.InputRegisters, 20, 7, 0xFFFF)
	mem.Restrict(1, modbus.HoldingRegisters, modbus.Range{Start: 0, Count: 100})
	mem.Restrict(1, modbus.Coils, modbus.Range{Start: 0, Count: 100})
	return mem
}

// gridxCase is one grid-x call and what it must do to our server.
type gridxCase struct {
	name string
	call func(c gridx.Client) ([]byte, error)
	// want is what grid-x returns when the call succeeds.
	want []byte
	// exception is the exception code grid-x must report; 0 means success.
	exception byte
	// mem checks the server's memory after the call; nil checks nothing.
	mem func(mem *modbus.Memory) (got, want any)
}

// gridxCases run in order on one server: later reads see earlier writes.
func gridxCases() []gridxCase {
	return []gridxCase{
		{
			name: "FC1 read coils",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadCoils(0, 10) },
			// coils 0-9 = 1011001011, LSB first
			want: []byte{0x4D, 0x03},
		},
		{
			name: "FC2 read discrete inputs",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadDiscreteInputs(3, 5) },
			want: []byte{0x16},
		},
		{
			name: "FC3 read holding registers",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadHoldingRegisters(10, 3) },
			want: []byte{0x12, 0x34, 0xBE, 0xEF, 0x00, 0x01},
		},
		{
			name: "FC4 read input registers",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadInputRegisters(20, 2) },
			want: []byte{0x00, 0x07, 0xFF, 0xFF},
		},
		{
			name: "FC3 read the whole register map",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadHoldingRegisters(0, 100) },
			want: func() []byte {
				b := make([]byte, 200)
				copy(b[20:], []byte{0x12, 0x34, 0xBE, 0xEF, 0x00, 0x01})
				b[121] = 0xF2
				return b
			}(),
		},
		{
			name: "FC5 write single coil on",
			call: func(c gridx.Client) ([]byte, error) { return c.WriteSingleCoil(12, 0xFF00) },
			want: []byte{0xFF, 0x00},
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Bits(1, modbus.Coils, 12, 1), []bool{true}
			},
		},
		{
			name: "FC5 write single coil off",
			call: func(c gridx.Client) ([]byte, error) { return c.WriteSingleCoil(0, 0x0000) },
			want: []byte{0x00, 0x00},
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Bits(1, modbus.Coils, 0, 1), []bool{false}
			},
		},
		{
			name: "FC15 write multiple coils",
			call: func(c gridx.Client) ([]byte, error) { return c.WriteMultipleCoils(30, 10, []byte{0xA5, 0x02}) },
			want: []byte{0x00, 0x0A},
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Bits(1, modbus.Coils, 30, 10), []bool{true, false, true, false, false, true, false, true, false, true}
			},
		},
		{
			name: "FC1 reads back the FC5 and FC15 writes",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadCoils(0, 40) },
			want: []byte{0x4C, 0x13, 0x00, 0x40, 0xA9},
		},
		{
			name: "FC6 write single register",
			call: func(c gridx.Client) ([]byte, error) { return c.WriteSingleRegister(40, 0xCAFE) },
			want: []byte{0xCA, 0xFE},
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Registers(1, modbus.HoldingRegisters, 40, 1), []uint16{0xCAFE}
			},
		},
		{
			name: "FC16 write multiple registers",
			call: func(c gridx.Client) ([]byte, error) {
				return c.WriteMultipleRegisters(50, 3, []byte{0x00, 0x01, 0xAB, 0xCD, 0xFF, 0xFF})
			},
			want: []byte{0x00, 0x03},
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Registers(1, modbus.HoldingRegisters, 50, 3), []uint16{1, 0xABCD, 0xFFFF}
			},
		},
		{
			name: "FC23 read/write multiple registers",
			call: func(c gridx.Client) ([]byte, error) {
				return c.ReadWriteMultipleRegisters(50, 4, 53, 1, []byte{0x55, 0xAA})
			},
			// The write happens before the read.
			want: []byte{0x00, 0x01, 0xAB, 0xCD, 0xFF, 0xFF, 0x55, 0xAA},
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Registers(1, modbus.HoldingRegisters, 53, 1), []uint16{0x55AA}
			},
		},
		{
			name: "FC3 reads back the FC6, FC16 and FC23 writes",
			call: func(c gridx.Client) ([]byte, error) { return c.ReadHoldingRegisters(40, 14) },
			want: []byte{0xCA, 0xFE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				0x00, 0x01, 0xAB, 0xCD, 0xFF, 0xFF, 0x55, 0xAA},
		},
		{
			name:      "FC22 mask write register is not served",
			call:      func(c gridx.Client) ([]byte, error) { return c.MaskWriteRegister(60, 0x00F2, 0x0025) },
			exception: gridx.ExceptionCodeIllegalFunction,
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Registers(1, modbus.HoldingRegisters, 60, 1), []uint16{0x00F2}
			},
		},
		{
			name:      "FC24 read FIFO queue is not served",
			call:      func(c gridx.Client) ([]byte, error) { return c.ReadFIFOQueue(60) },
			exception: gridx.ExceptionCodeIllegalFunction,
		},
		{
			name:      "FC3 past the register map",
			call:      func(c gridx.Client) ([]byte, error) { return c.ReadHoldingRegisters(99, 2) },
			exception: gridx.ExceptionCodeIllegalDataAddress,
		},
		{
			name:      "FC6 past the register map",
			call:      func(c gridx.Client) ([]byte, error) { return c.WriteSingleRegister(100, 1) },
			exception: gridx.ExceptionCodeIllegalDataAddress,
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Registers(1, modbus.HoldingRegisters, 100, 1), []uint16{0}
			},
		},
		{
			name:      "FC5 past the coil map",
			call:      func(c gridx.Client) ([]byte, error) { return c.WriteSingleCoil(100, 0xFF00) },
			exception: gridx.ExceptionCodeIllegalDataAddress,
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Bits(1, modbus.Coils, 100, 1), []bool{false}
			},
		},
		{
			name: "FC16 quantity that does not match the byte count",
			call: func(c gridx.Client) ([]byte, error) {
				return c.WriteMultipleRegisters(70, 3, []byte{0x00, 0x01, 0x00, 0x02})
			},
			exception: gridx.ExceptionCodeIllegalDataValue,
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Registers(1, modbus.HoldingRegisters, 70, 3), []uint16{0, 0, 0}
			},
		},
		{
			name:      "FC15 quantity that does not match the byte count",
			call:      func(c gridx.Client) ([]byte, error) { return c.WriteMultipleCoils(70, 10, []byte{0xFF}) },
			exception: gridx.ExceptionCodeIllegalDataValue,
			mem: func(mem *modbus.Memory) (any, any) {
				return mem.Bits(1, modbus.Coils, 70, 10), make([]bool, 10)
			},
		},
	}
}

// TestGridxClientInterop runs grid-x's client against our server on every
// transport both implement.
func TestGridxClientInterop(t *testing.T) {
	for _, peer := range gridxPeers() {
		t.Run(peer.name, func(t *testing.T) {
			mem := gridxMemory()
			srv := &modbus.Server{Handler: mem, Logger: logger(t), Units: []byte{1}}
			h := peer.connect(t, srv)
			t.Cleanup(func() { _ = h.Close() })
			c := gridx.NewClient(h)
			for _, tc := range gridxCases() {
				t.Run(tc.name, func(t *testing.T) {
					got, err := tc.call(c)
					if tc.exception != 0 {
						var ex *gridx.Error
						if !errors.As(err, &ex) {
							t.Fatalf("got %X, %v; want exception %d", got, err, tc.exception)
						}
						if ex.ExceptionCode != tc.exception || ex.FunctionCode&0x80 == 0 {
							t.Errorf("got exception %d for function %#02x, want exception %d with bit 0x80 set",
								ex.ExceptionCode, ex.FunctionCode, tc.exception)
						}
					} else {
						if err != nil {
							t.Fatalf("got error %v, want %X", err, tc.want)
						}
						if !bytes.Equal(got, tc.want) {
							t.Errorf("got % X, want % X", got, tc.want)
						}
					}
					if tc.mem != nil {
						if gotMem, wantMem := tc.mem(mem); !equalSlices(gotMem, wantMem) {
							t.Errorf("server memory: got %v, want %v", gotMem, wantMem)
						}
					}
				})
			}
		})
	}
}

// equalSlices compares two []bool or two []uint16.
func equalSlices(got, want any) bool {
	switch w := want.(type) {
	case []bool:
		g, ok := got.([]bool)
		return ok && slices.Equal(g, w)
	case []uint16:
		g, ok := got.([]uint16)
		return ok && slices.Equal(g, w)
	}
	return false
}
