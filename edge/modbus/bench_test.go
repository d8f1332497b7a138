package modbus

import (
	"context"
	"log/slog"
	"net"
	"testing"
)

// BenchmarkReadHoldingRegisters125 measures one FC 3 read of 125 registers,
// client to Memory server over loopback TCP.
func BenchmarkReadHoldingRegisters125(b *testing.B) {
	mem := NewMemory()
	regs := make([]uint16, MaxReadRegisters)
	for i := range regs {
		regs[i] = uint16(i)
	}
	mem.SetRegisters(1, HoldingRegisters, 0, regs...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := serveOn(b, &Server{Handler: mem, Logger: slog.New(slog.DiscardHandler)}, l)
	c, err := NewClient(url, ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.ReadHoldingRegisters(ctx, 1, 0, MaxReadRegisters)
		if err != nil || got[124] != 124 {
			b.Fatalf("got %v, %v", got, err)
		}
	}
}

func BenchmarkNewReadRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewReadRequest(FuncReadHoldingRegisters, 100, MaxReadRegisters); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReadRequest(b *testing.B) {
	p, _ := NewReadRequest(FuncReadHoldingRegisters, 100, MaxReadRegisters)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseReadRequest(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewRegistersResponse125(b *testing.B) {
	regs := make([]uint16, MaxReadRegisters)
	b.ReportAllocs()
	for b.Loop() {
		NewRegistersResponse(FuncReadHoldingRegisters, regs)
	}
}

func BenchmarkParseRegistersResponse125(b *testing.B) {
	p := NewRegistersResponse(FuncReadHoldingRegisters, make([]uint16, MaxReadRegisters))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRegistersResponse(p, FuncReadHoldingRegisters, MaxReadRegisters); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewWriteMultipleRegistersRequest123(b *testing.B) {
	vs := make([]uint16, MaxWriteRegisters)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewWriteMultipleRegistersRequest(0, vs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseWriteMultipleRegistersRequest123(b *testing.B) {
	p, _ := NewWriteMultipleRegistersRequest(0, make([]uint16, MaxWriteRegisters))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseWriteMultipleRegistersRequest(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBitsResponse2000(b *testing.B) {
	p := NewBitsResponse(FuncReadCoils, make([]bool, MaxReadBits))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBitsResponse(p, FuncReadCoils, MaxReadBits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPFrame encodes and decodes the MBAP frame of a 125-register
// response into reused buffers.
func BenchmarkTCPFrame(b *testing.B) {
	p := NewRegistersResponse(FuncReadHoldingRegisters, make([]uint16, MaxReadRegisters))
	buf := make([]byte, 0, maxTCPADU)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendTCPFrame(buf[:0], 1, 1, p)
		if _, _, err := parseTCPFrame(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryRead125 is the server-side cost of a 125-register read.
func BenchmarkMemoryRead125(b *testing.B) {
	mem := NewMemory()
	mem.SetRegisters(1, HoldingRegisters, 0, 1)
	req, _ := NewReadRequest(FuncReadHoldingRegisters, 0, MaxReadRegisters)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mem.HandleModbus(ctx, 1, req); err != nil {
			b.Fatal(err)
		}
	}
}
