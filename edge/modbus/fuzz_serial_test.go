package modbus

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// Fuzz targets for the serial line decoders. Seeds are the specification's
// examples (rtuVectors) and malformed variants; fuzz with e.g.
// go test -run='^$' -fuzz='^FuzzRTUFrame$' -fuzztime=20s ./modbus/

func FuzzRTUFrame(f *testing.F) {
	for _, v := range rtuVectors {
		f.Add(pduBytes(f, v.frame))
	}
	f.Add([]byte{})
	f.Add(pduBytes(f, "01 2B 0E 01 01 00 00 02 00 08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range []int{rtuRequestLength(b), rtuResponseLength(b)} {
			if n < 0 && -n <= len(b) {
				t.Fatalf("length of % X asks for %d bytes, it has %d", b, -n, len(b))
			}
		}
		unit, p, err := parseRTUFrame(b)
		if err != nil {
			return
		}
		if got := appendRTUFrame(nil, unit, p); !bytes.Equal(got, b) {
			t.Fatalf("re-encode % X = % X", b, got)
		}
	})
}

func FuzzASCIIFrame(f *testing.F) {
	f.Add([]byte(":1103006B00037E\r\n"))
	f.Add([]byte(":01030000000AF2\r\n"))
	f.Add([]byte(":0A8102730\r\n"))
	f.Add([]byte(":\r\n"))
	f.Add([]byte(":zz\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf [MaxRTUFrame]byte
		unit, p, err := parseASCIIFrame(b, &buf)
		if err != nil {
			return
		}
		if got := appendASCIIFrame(nil, unit, p); !bytes.EqualFold(got, b) {
			t.Fatalf("re-encode %q = %q", b, got)
		}
	})
}

// FuzzRTUStream feeds arbitrary bytes, in chunks, to the stream framing of
// both sides: it must end (no hang), never panic, and only return frames
// with a good CRC (or a response frame of the length its function tells).
func FuzzRTUStream(f *testing.F) {
	for _, v := range rtuVectors {
		f.Add(pduBytes(f, v.frame), uint8(3))
	}
	f.Add(append(pduBytes(f, "FF 00 13"), pduBytes(f, "11 03 006B 0003 7687")...), uint8(1))
	f.Add(pduBytes(f, "11 03 FF 00"), uint8(0))
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		if len(b) > 4*MaxRTUFrame {
			return
		}
		split := func() [][]byte {
			var cs [][]byte
			size := int(chunk%16) + 1
			for rest := b; len(rest) > 0; {
				n := min(size, len(rest))
				cs = append(cs, bytes.Clone(rest[:n]))
				rest = rest[n:]
			}
			return cs
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		l := newLine(&fakeRawLine{chunks: split()}, serialConfig{}, false)
		l.silence = time.Millisecond
		for range 4 * MaxRTUFrame {
			frame, err := l.readRTURequest(ctx, time.Millisecond, log)
			if err != nil {
				if ctx.Err() != nil {
					t.Fatalf("readRTURequest hangs on % X", b)
				}
				break
			}
			if !crcOK(frame) {
				t.Fatalf("readRTURequest returned % X with a bad CRC", frame)
			}
			l.consume(len(frame))
		}

		l = newLine(&fakeRawLine{chunks: split()}, serialConfig{}, false)
		l.silence = time.Millisecond
		frame, err := l.readRTUResponse(ctx, time.Now().Add(20*time.Millisecond))
		if ctx.Err() != nil {
			t.Fatalf("readRTUResponse hangs on % X", b)
		}
		if err == nil && len(frame) > MaxRTUFrame {
			t.Fatalf("readRTUResponse returned %d bytes", len(frame))
		}
	})
}

// FuzzASCIIStream is FuzzRTUStream for ASCII framing.
func FuzzASCIIStream(f *testing.F) {
	f.Add([]byte(":1103006B00037E\r\n"), uint8(3))
	f.Add([]byte("::0103\r\n:1103006B00037E\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		if len(b) > 4*MaxASCIIFrame {
			return
		}
		var cs [][]byte
		size := int(chunk%16) + 1
		for rest := b; len(rest) > 0; {
			n := min(size, len(rest))
			cs = append(cs, bytes.Clone(rest[:n]))
			rest = rest[n:]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l := newLine(&fakeRawLine{chunks: cs}, serialConfig{}, false)
		for range len(b) + 1 {
			frame, err := l.readASCIIFrame(ctx, time.Time{}, time.Millisecond, time.Millisecond)
			if err != nil {
				if ctx.Err() != nil {
					t.Fatalf("readASCIIFrame hangs on %q", b)
				}
				return
			}
			if frame[0] != ':' || frame[len(frame)-1] != '\n' || len(frame) > MaxASCIIFrame {
				t.Fatalf("readASCIIFrame returned %q", frame)
			}
			l.consume(len(frame))
		}
	})
}
