package modbus

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// ASCII framing (Modbus over Serial Line V1.02, 2.5.2):
//
//	':'                    start of frame
//	address, PDU, LRC      each byte as two hexadecimal characters
//	CR LF                  end of frame
//
// The LRC is the two's complement of the 8-bit sum of address and PDU.
const (
	// MaxASCIIFrame is the largest ASCII frame in characters.
	MaxASCIIFrame = 1 + 2*(1+MaxPDUSize+1) + 2 // 513
	asciiMinFrame = 1 + 2*3 + 2                // address, function, LRC
)

// LRC returns the Modbus ASCII longitudinal redundancy check of b: the
// two's complement of the sum of its bytes, ignoring carries.
func LRC(b []byte) byte {
	var sum byte
	for _, c := range b {
		sum += c
	}
	return -sum
}

const hexDigits = "0123456789ABCDEF"

// appendASCIIFrame appends the ASCII frame of p for unit to dst.
func appendASCIIFrame(dst []byte, unit byte, p PDU) []byte {
	lrc := unit + p.Function
	for _, c := range p.Data {
		lrc += c
	}
	hex := func(dst []byte, c byte) []byte { return append(dst, hexDigits[c>>4], hexDigits[c&0x0F]) }
	dst = append(dst, ':')
	dst = hex(dst, unit)
	dst = hex(dst, p.Function)
	for _, c := range p.Data {
		dst = hex(dst, c)
	}
	dst = hex(dst, -lrc)
	return append(dst, '\r', '\n')
}

// asciiFrameError reports an ASCII frame that cannot be decoded.
type asciiFrameError struct{ msg string }

func (e *asciiFrameError) Error() string { return "malformed ASCII frame: " + e.msg }

// unhex returns the value of a hexadecimal digit (either case).
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// parseASCIIFrame decodes exactly one complete ASCII frame held in b
// (':' to LF), checking its LRC. The binary bytes are written to buf, which
// the PDU's Data aliases.
func parseASCIIFrame(b []byte, buf *[MaxRTUFrame]byte) (unit byte, p PDU, err error) {
	if len(b) < asciiMinFrame || len(b) > MaxASCIIFrame {
		return 0, PDU{}, &asciiFrameError{fmt.Sprintf("%d characters, want %d..%d", len(b), asciiMinFrame, MaxASCIIFrame)}
	}
	if b[0] != ':' {
		return 0, PDU{}, &asciiFrameError{fmt.Sprintf("starts with 0x%02X, want ':'", b[0])}
	}
	if b[len(b)-2] != '\r' || b[len(b)-1] != '\n' {
		return 0, PDU{}, &asciiFrameError{"does not end with CR LF"}
	}
	hex := b[1 : len(b)-2]
	if len(hex)%2 != 0 {
		return 0, PDU{}, &asciiFrameError{fmt.Sprintf("odd number (%d) of hex digits", len(hex))}
	}
	n := len(hex) / 2
	var sum byte
	for i := range n {
		hi, ok1 := unhex(hex[2*i])
		lo, ok2 := unhex(hex[2*i+1])
		if !ok1 || !ok2 {
			return 0, PDU{}, &asciiFrameError{fmt.Sprintf("invalid hex digits %q at %d", hex[2*i:2*i+2], 1+2*i)}
		}
		buf[i] = hi<<4 | lo
		sum += buf[i]
	}
	if sum != 0 {
		return 0, PDU{}, &asciiFrameError{fmt.Sprintf("LRC 0x%02X, computed 0x%02X", buf[n-1], LRC(buf[:n-1]))}
	}
	return buf[0], PDU{Function: buf[1], Data: buf[2 : n-1]}, nil
}

// readASCIIFrame reads one frame from ':' to LF. Characters before ':' are
// dropped, and a ':' inside a frame starts it again, as the specification
// says. The first ':' is awaited until deadline (zero: for ever, or for
// idle when positive, then errNoAnswer); each later character for at most
// charTimeout. A frame whose next character does not come is an
// *asciiFrameError when wantDeadline is set (a client waiting for its
// response), and dropped otherwise (a server). The frame aliases l.buf; the
// caller consumes it.
func (l *line) readASCIIFrame(ctx context.Context, deadline time.Time, idle, charTimeout time.Duration) ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf, ':'); i < 0 {
			l.buf = l.buf[:0]
		} else if i > 0 {
			l.consume(i)
		}
		started := len(l.buf) > 0
		if started {
			if i := bytes.IndexByte(l.buf[1:], ':'); i >= 0 {
				if j := bytes.IndexByte(l.buf[1:i+1], '\n'); j < 0 {
					l.consume(1 + i) // restarted before its end
					continue
				}
			}
			if j := bytes.IndexByte(l.buf, '\n'); j >= 0 {
				return l.buf[:j+1], nil
			}
			if len(l.buf) > MaxASCIIFrame {
				l.consume(1)
				continue
			}
		}
		var wait time.Duration
		switch {
		case started:
			wait = charTimeout
		case !deadline.IsZero():
			wait = time.Until(deadline)
		case idle > 0:
			wait = idle
		default:
			wait = time.Duration(1<<63 - 1)
		}
		got, err := l.fill(ctx, wait, deadline)
		if err != nil {
			return nil, err
		}
		if got {
			continue
		}
		switch {
		case !started:
			return nil, errNoAnswer
		case !deadline.IsZero():
			return nil, &asciiFrameError{fmt.Sprintf("truncated: %q and no more within %v", l.buf, charTimeout)}
		}
		l.buf = l.buf[:0] // interrupted frame
	}
}
