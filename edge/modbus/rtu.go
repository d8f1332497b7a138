package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// RTU framing (Modbus over Serial Line V1.02, 2.5.1):
//
//	address   1 byte   0 broadcast, 1..247 slaves
//	PDU       function code + data, at most 253 bytes
//	CRC       2 bytes  CRC-16 of address and PDU, low byte first
//
// Frames are separated by at least 3.5 character times of silence.
const (
	// MaxRTUFrame is the largest RTU frame in bytes: address, 253-byte PDU
	// and CRC.
	MaxRTUFrame = 1 + MaxPDUSize + 2
	// RTUOverhead is what RTU framing adds to a PDU: address and CRC.
	RTUOverhead = 3
	rtuMinFrame = 4 // address, function code, CRC
)

// crcTable holds the CRC-16/MODBUS remainder of every byte value:
// polynomial 0x8005 reflected (0xA001), processed least significant bit
// first.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the Modbus RTU CRC of b (initial value 0xFFFF). It is sent
// low byte first.
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

// appendRTUFrame appends the RTU frame of p for unit to dst.
func appendRTUFrame(dst []byte, unit byte, p PDU) []byte {
	start := len(dst)
	dst = append(dst, unit, p.Function)
	dst = append(dst, p.Data...)
	return binary.LittleEndian.AppendUint16(dst, CRC16(dst[start:]))
}

// rtuFrameError reports an RTU frame that cannot be decoded.
type rtuFrameError struct{ msg string }

func (e *rtuFrameError) Error() string { return "malformed RTU frame: " + e.msg }

// parseRTUFrame decodes exactly one complete RTU frame held in b, checking
// its CRC. The PDU's Data aliases b.
func parseRTUFrame(b []byte) (unit byte, p PDU, err error) {
	if len(b) < rtuMinFrame {
		return 0, PDU{}, &rtuFrameError{fmt.Sprintf("%d bytes, want at least %d", len(b), rtuMinFrame)}
	}
	if len(b) > MaxRTUFrame {
		return 0, PDU{}, &rtuFrameError{fmt.Sprintf("%d bytes, want at most %d", len(b), MaxRTUFrame)}
	}
	n := len(b) - 2
	if got, want := binary.LittleEndian.Uint16(b[n:]), CRC16(b[:n]); got != want {
		return 0, PDU{}, &rtuFrameError{fmt.Sprintf("CRC 0x%04X, computed 0x%04X", got, want)}
	}
	return b[0], PDU{Function: b[1], Data: b[2:n]}, nil
}

// crcOK reports whether b ends with the CRC of the bytes before it.
func crcOK(b []byte) bool {
	n := len(b) - 2
	return n >= 2 && binary.LittleEndian.Uint16(b[n:]) == CRC16(b[:n])
}

// Frame length from the first bytes of a frame. The result n means:
// n > 0: the frame is n bytes long; n < 0: at least -n bytes are needed to
// tell; n == 0: the function code does not tell, so silence ends the frame.
// A length above MaxRTUFrame means the bytes are no valid frame.

// rtuRequestLength returns the length of the RTU request frame starting b.
func rtuRequestLength(b []byte) int {
	if len(b) < 2 {
		return -2
	}
	switch b[1] {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncWriteSingleCoil, FuncWriteSingleRegister:
		return 8 // address, function, 2 × 2 bytes, CRC
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if len(b) < 7 {
			return -7
		}
		return 7 + int(b[6]) + 2
	case FuncReadWriteMultipleRegisters:
		if len(b) < 11 {
			return -11
		}
		return 11 + int(b[10]) + 2
	case FuncEncapsulatedInterface:
		if len(b) < 3 {
			return -3
		}
		if b[2] == MEITypeReadDeviceID {
			return 7 // address, function, MEI type, code, object id, CRC
		}
	}
	return 0
}

// rtuResponseLength returns the length of the RTU response frame starting b.
func rtuResponseLength(b []byte) int {
	if len(b) < 2 {
		return -2
	}
	fn := b[1]
	if fn&0x80 != 0 {
		return 5 // address, function, exception code, CRC
	}
	switch fn {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncReadWriteMultipleRegisters:
		if len(b) < 3 {
			return -3
		}
		return 3 + int(b[2]) + 2
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		return 8
	case FuncEncapsulatedInterface:
		if len(b) < 3 {
			return -3
		}
		if b[2] != MEITypeReadDeviceID {
			return 0
		}
		// address, function, MEI type, code, conformity, more follows,
		// next object id, number of objects, then id, length, value each.
		const hdr = 1 + deviceIDHeader
		if len(b) < hdr {
			return -hdr
		}
		pos := hdr
		for range int(b[hdr-1]) {
			if pos > MaxRTUFrame {
				return pos
			}
			if len(b) < pos+2 {
				return -(pos + 2)
			}
			pos += 2 + int(b[pos+1])
		}
		return pos + 2
	}
	return 0
}

// Serial line timing (Modbus over Serial Line V1.02, 2.5.1.1).
const (
	// fixedT15 and fixedT35 are the spec's fixed timers above 19200 baud.
	fixedT15 = 750 * time.Microsecond
	fixedT35 = 1750 * time.Microsecond
)

// CharTime returns the time one character of bitsPerChar bits (start,
// data, parity and stop bits: 11 in RTU, 10 in ASCII) takes on the line at
// baud bits per second.
func CharTime(baud, bitsPerChar int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(int64(bitsPerChar) * int64(time.Second) / int64(baud))
}

// halfChars returns the time of n half characters.
func halfChars(baud, bitsPerChar int, n int64) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(n * int64(bitsPerChar) * int64(time.Second) / (2 * int64(baud)))
}

// InterFrameDelay returns t3.5, the silence that separates RTU frames: 3.5
// character times, or 1750 µs above 19200 baud as the specification fixes.
func InterFrameDelay(baud, bitsPerChar int) time.Duration {
	if baud > 19200 {
		return fixedT35
	}
	return halfChars(baud, bitsPerChar, 7)
}

// InterCharTimeout returns t1.5, the longest silence allowed inside an RTU
// frame: 1.5 character times, or 750 µs above 19200 baud.
func InterCharTimeout(baud, bitsPerChar int) time.Duration {
	if baud > 19200 {
		return fixedT15
	}
	return halfChars(baud, bitsPerChar, 3)
}

// LineTime returns the time one request/response exchange occupies a serial
// line: reqBytes and respBytes characters (whole frames: for RTU the PDU
// plus RTUOverhead) of bitsPerChar bits at baud, plus the t3.5 silence
// after each frame. The slave's processing time is not included: it is the
// theoretical minimum.
func LineTime(baud, bitsPerChar, reqBytes, respBytes int) time.Duration {
	if baud <= 0 {
		return 0
	}
	bits := int64(reqBytes+respBytes) * int64(bitsPerChar)
	return time.Duration(bits*int64(time.Second)/int64(baud)) + 2*InterFrameDelay(baud, bitsPerChar)
}

// frameSilence is the silence that ends a frame whose length the function
// code does not tell.
func (l *line) frameSilence() time.Duration { return max(l.t35, l.silence) }

// readRTUResponse reads one RTU response frame, waiting until deadline.
// The frame aliases l.buf; the caller consumes it.
func (l *line) readRTUResponse(ctx context.Context, deadline time.Time) ([]byte, error) {
	for {
		n := rtuResponseLength(l.buf)
		switch {
		case n > MaxRTUFrame:
			return nil, &rtuFrameError{fmt.Sprintf("function 0x%02X with length %d, above the maximum %d", l.buf[1], n, MaxRTUFrame)}
		case n > 0 && len(l.buf) >= n:
			return l.buf[:n], nil
		case n == 0 && len(l.buf) > MaxRTUFrame:
			return nil, &rtuFrameError{fmt.Sprintf("more than %d bytes without silence", MaxRTUFrame)}
		}
		wait := time.Until(deadline)
		unknown := n == 0 && len(l.buf) >= 2
		if unknown {
			wait = l.frameSilence()
		}
		got, err := l.fill(ctx, wait, deadline)
		if err != nil {
			return nil, err
		}
		if got {
			continue
		}
		switch {
		case unknown && time.Now().Before(deadline):
			return l.buf, nil // silence ended it
		case len(l.buf) == 0:
			return nil, errNoAnswer
		case n > 0:
			return nil, &rtuFrameError{fmt.Sprintf("truncated: %d of %d bytes (% X)", len(l.buf), n, l.buf)}
		default:
			return nil, &rtuFrameError{fmt.Sprintf("truncated: %d bytes (% X)", len(l.buf), l.buf)}
		}
	}
}

// errNoAnswer means nothing at all came back before the deadline.
var errNoAnswer = errors.New("no answer")

// scan results of scanRTURequest.
const (
	scanMore  = iota // need more bytes (or silence)
	scanFrame        // a request frame with a good CRC
	scanSkip         // bytes to drop: an overheard response or noise
)

// scanRTURequest looks for a request frame at the start of b, as a slave
// on a shared bus sees it: requests to it or to other slaves, the other
// slaves' responses, and noise. It returns what to do with the first n
// bytes.
func scanRTURequest(b []byte) (action, n int) {
	rq, rs := rtuRequestLength(b), rtuResponseLength(b)
	if rq > 0 && rq <= MaxRTUFrame && len(b) >= rq && crcOK(b[:rq]) {
		return scanFrame, rq
	}
	if rs > 0 && rs <= MaxRTUFrame && len(b) >= rs && crcOK(b[:rs]) {
		return scanSkip, rs
	}
	pending := func(n int) bool { return n < 0 || (n > 0 && n <= MaxRTUFrame && len(b) < n) }
	if pending(rq) || pending(rs) || (rq == 0 && len(b) <= MaxRTUFrame) {
		return scanMore, 0
	}
	return scanSkip, 1 // noise: resynchronise one byte on
}

// readRTURequest reads the next request frame addressed to anyone. idle,
// when positive, bounds the wait for its first byte (then it returns
// errNoAnswer). The frame aliases l.buf; the caller consumes it.
func (l *line) readRTURequest(ctx context.Context, idle time.Duration, log *slog.Logger) ([]byte, error) {
	for {
		for len(l.buf) > 0 {
			action, n := scanRTURequest(l.buf)
			if action == scanFrame {
				return l.buf[:n], nil
			}
			if action == scanMore {
				break
			}
			if n > 1 {
				log.Debug("modbus rtu skipping overheard response", "unit", l.buf[0], "function", l.buf[1], "bytes", n)
			}
			l.consume(n)
		}
		wait := time.Duration(1<<63 - 1)
		if idle > 0 {
			wait = idle
		}
		if len(l.buf) > 0 {
			wait = l.frameSilence()
		}
		got, err := l.fill(ctx, wait, time.Time{})
		if err != nil {
			return nil, err
		}
		if got {
			continue
		}
		if len(l.buf) == 0 {
			return nil, errNoAnswer
		}
		// Silence: a frame of unknown length ends here, or the bytes are
		// noise or an interrupted frame, possibly followed by a frame.
		log.Debug("modbus rtu resynchronising after silence", "bytes", len(l.buf), "frame", fmt.Sprintf("% X", l.buf))
		for len(l.buf) > 0 {
			if len(l.buf) >= rtuMinFrame && len(l.buf) <= MaxRTUFrame && crcOK(l.buf) {
				return l.buf, nil
			}
			if action, n := scanRTURequest(l.buf); action == scanFrame {
				return l.buf[:n], nil
			} else if action == scanSkip {
				l.consume(n)
				continue
			}
			l.consume(1)
		}
	}
}
