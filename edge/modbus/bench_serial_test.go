package modbus

import (
	"fmt"
	"testing"
)

// BenchmarkRTUEncode measures framing a 125-register response (CRC
// included); it must not allocate.
func BenchmarkRTUEncode(b *testing.B) {
	p := NewRegistersResponse(FuncReadHoldingRegisters, make([]uint16, MaxReadRegisters))
	buf := make([]byte, 0, MaxRTUFrame)
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Data) + RTUOverhead + 1))
	for b.Loop() {
		buf = appendRTUFrame(buf[:0], 1, p)
	}
}

// BenchmarkRTUDecode measures checking and unframing a 125-register
// response; it must not allocate (the register slice is the client's).
func BenchmarkRTUDecode(b *testing.B) {
	frame := appendRTUFrame(nil, 1, NewRegistersResponse(FuncReadHoldingRegisters, make([]uint16, MaxReadRegisters)))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if n := rtuResponseLength(frame); n != len(frame) {
			b.Fatal(n)
		}
		if _, _, err := parseRTUFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkASCIIDecode(b *testing.B) {
	frame := appendASCIIFrame(nil, 1, NewRegistersResponse(FuncReadHoldingRegisters, make([]uint16, MaxReadRegisters)))
	var buf [MaxRTUFrame]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, _, err := parseASCIIFrame(frame, &buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLineTime reports the computed line time of one read request
// (FC 3, 8-byte request) at 9600, 19200 and 115200 baud, 11 bits per
// character, t3.5 gaps included: the theoretical minimum per request.
func BenchmarkLineTime(b *testing.B) {
	for _, regs := range []int{1, 10, 125} {
		resp := 1 + 1 + 1 + 2*regs + 2 // address, function, byte count, data, CRC
		for _, baud := range []int{9600, 19200, 115200} {
			b.Run(fmt.Sprintf("regs=%d/baud=%d", regs, baud), func(b *testing.B) {
				for b.Loop() {
					_ = LineTime(baud, 11, 8, resp)
				}
				b.ReportMetric(float64(LineTime(baud, 11, 8, resp).Microseconds()), "µs/request")
			})
		}
	}
}
