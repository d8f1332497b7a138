package modbus

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// rtuVectors are RTU frames from the specifications' examples: Modbus over
// Serial Line V1.02 6.2.2 (CRC of 02 07 is 0x1241, sent 41 12) and the
// application protocol's FC 3 example addressed to slave 0x11.
var rtuVectors = []struct {
	name    string
	frame   string
	request bool
}{
	{"crc example", "02 07 41 12", true},
	{"read holding request", "11 03 006B 0003 7687", true},
	{"read holding response", "11 03 06 AE41 5652 4340 49AD", false},
	{"read coils request", "01 01 0013 0013 8C02", true},
	{"write multiple registers request", "11 10 0001 0002 04 000A 0102 C6F0", true},
	{"exception response", "0A 81 02 B053", false},
}

func TestCRC16(t *testing.T) {
	if got := CRC16([]byte{0x02, 0x07}); got != 0x1241 {
		t.Errorf("CRC16(02 07) = 0x%04X, want 0x1241", got)
	}
	if got := CRC16([]byte{0x01, 0x03, 0, 0, 0, 0x0A}); got != 0xCDC5 {
		t.Errorf("CRC16(01 03 0000 000A) = 0x%04X, want 0xCDC5", got)
	}
	for _, v := range rtuVectors {
		b := pduBytes(t, v.frame)
		if !crcOK(b) {
			t.Errorf("%s: CRC of % X is 0x%04X", v.name, b, CRC16(b[:len(b)-2]))
		}
	}
}

func TestRTUFrame(t *testing.T) {
	req, _ := NewReadRequest(FuncReadHoldingRegisters, 0x6B, 3)
	want := pduBytes(t, "11 03 006B 0003 7687")
	if got := appendRTUFrame(nil, 0x11, req); !bytes.Equal(got, want) {
		t.Errorf("appendRTUFrame = % X, want % X", got, want)
	}
	unit, p, err := parseRTUFrame(want)
	if err != nil || unit != 0x11 || p.Function != 3 || !bytes.Equal(p.Data, req.Data) {
		t.Errorf("parseRTUFrame = %d %+v %v", unit, p, err)
	}
	for _, bad := range []string{"", "11", "11 03 00", "11 03 006B 0003 7688", "11 03 006B 0003 8776"} {
		if _, _, err := parseRTUFrame(pduBytes(t, bad)); err == nil {
			t.Errorf("parseRTUFrame(%s) succeeded", bad)
		}
	}
	if _, _, err := parseRTUFrame(make([]byte, MaxRTUFrame+1)); err == nil {
		t.Error("parseRTUFrame accepted an oversized frame")
	}
}

func TestRTULengths(t *testing.T) {
	for _, v := range rtuVectors {
		b := pduBytes(t, v.frame)
		lengthOf := rtuResponseLength
		if v.request {
			lengthOf = rtuRequestLength
		}
		if v.name == "crc example" {
			continue // function 7 is not supported: its length is unknown
		}
		if got := lengthOf(b); got != len(b) {
			t.Errorf("%s: length = %d, want %d", v.name, got, len(b))
		}
		// Every prefix tells either the length or how many bytes it needs.
		for i := range len(b) {
			n := lengthOf(b[:i])
			if n != len(b) && (n >= 0 || -n <= i) {
				t.Errorf("%s: length of %d-byte prefix = %d", v.name, i, n)
			}
		}
	}
	ident, _ := NewReadDeviceIDResponse(DeviceIdentification{ReadCode: 1, ConformityLevel: 1, Objects: []DeviceObject{{0, "GridEdge"}, {1, "X"}, {2, ""}}})
	f := appendRTUFrame(nil, 1, ident)
	if got := rtuResponseLength(f); got != len(f) {
		t.Errorf("device id response length = %d, want %d", got, len(f))
	}
	if got := rtuRequestLength(pduBytes(t, "01 2B 0E 01 00")); got != 7 {
		t.Errorf("device id request length = %d, want 7", got)
	}
	if got := rtuRequestLength(pduBytes(t, "01 41 00")); got != 0 {
		t.Errorf("unknown function length = %d, want 0", got)
	}
}

func TestLRCAndASCIIFrame(t *testing.T) {
	if got := LRC([]byte{0x01, 0x03, 0, 0, 0, 0x0A}); got != 0xF2 {
		t.Errorf("LRC = 0x%02X, want 0xF2", got)
	}
	// Serial Line V1.02 2.5.2.1 example: slave 0x11? No: the frame of the
	// FC 3 example, in ASCII.
	req, _ := NewReadRequest(FuncReadHoldingRegisters, 0x6B, 3)
	want := ":1103006B00037E\r\n"
	got := appendASCIIFrame(nil, 0x11, req)
	if string(got) != want {
		t.Errorf("appendASCIIFrame = %q, want %q", got, want)
	}
	var buf [MaxRTUFrame]byte
	unit, p, err := parseASCIIFrame([]byte(strings.ToLower(want)), &buf)
	if err != nil || unit != 0x11 || p.Function != 3 || !bytes.Equal(p.Data, req.Data) {
		t.Errorf("parseASCIIFrame = %d %+v %v", unit, p, err)
	}
	for _, bad := range []string{"", ":\r\n", ":1103006B00037F\r\n", "1103006B00037E\r\n", ":1103006B00037E\n\r", ":1103006B00037\r\n", ":1103006B0003ZZ\r\n"} {
		if _, _, err := parseASCIIFrame([]byte(bad), &buf); err == nil {
			t.Errorf("parseASCIIFrame(%q) succeeded", bad)
		}
	}
}

func TestLineTiming(t *testing.T) {
	tests := []struct {
		baud     int
		t15, t35 time.Duration
	}{
		{9600, 1718750 * time.Nanosecond, 4010416 * time.Nanosecond},
		{19200, 859375 * time.Nanosecond, 2005208 * time.Nanosecond},
		{38400, 750 * time.Microsecond, 1750 * time.Microsecond},
		{115200, 750 * time.Microsecond, 1750 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := InterCharTimeout(tt.baud, 11); got != tt.t15 {
			t.Errorf("InterCharTimeout(%d) = %v, want %v", tt.baud, got, tt.t15)
		}
		if got := InterFrameDelay(tt.baud, 11); got != tt.t35 {
			t.Errorf("InterFrameDelay(%d) = %v, want %v", tt.baud, got, tt.t35)
		}
	}
	// FC 3 of 10 registers: 8-byte request, 25-byte response.
	if got, want := LineTime(9600, 11, 8, 25), 33*11*time.Second/9600+2*InterFrameDelay(9600, 11); got != want {
		t.Errorf("LineTime = %v, want %v", got, want)
	}
	if got := LineTime(0, 11, 8, 25); got != 0 {
		t.Errorf("LineTime(0 baud) = %v", got)
	}
}

// TestScanRTURequest: a slave on a shared bus frames requests to others,
// skips their responses and resynchronises after noise.
func TestScanRTURequest(t *testing.T) {
	req := pduBytes(t, "11 03 006B 0003 7687")
	resp := pduBytes(t, "11 03 06 AE41 5652 4340 49AD")
	cases := []struct {
		name   string
		b      []byte
		action int
		n      int
	}{
		{"request", req, scanFrame, 8},
		{"request and more", append(append([]byte(nil), req...), resp...), scanFrame, 8},
		{"partial", req[:5], scanMore, 0},
		{"response", resp, scanSkip, len(resp)},
		{"noise", append([]byte{0xFF, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, req...), scanSkip, 1},
	}
	for _, c := range cases {
		action, n := scanRTURequest(c.b)
		if action != c.action || n != c.n {
			t.Errorf("%s: scan = %d, %d; want %d, %d", c.name, action, n, c.action, c.n)
		}
	}
}

// fakeRawLine serves a line from a script of chunks.
type fakeRawLine struct {
	chunks [][]byte
	writes [][]byte
	closed bool
	broken error
}

func (f *fakeRawLine) readWait(p []byte, d time.Duration) (int, error) {
	if f.broken != nil {
		return 0, f.broken
	}
	if len(f.chunks) == 0 {
		time.Sleep(min(d, 5*time.Millisecond))
		return 0, nil
	}
	n := copy(p, f.chunks[0])
	f.chunks[0] = f.chunks[0][n:]
	if len(f.chunks[0]) == 0 {
		f.chunks = f.chunks[1:]
	}
	return n, nil
}

func (f *fakeRawLine) Write(p []byte) (int, error) {
	if f.broken != nil {
		return 0, f.broken
	}
	f.writes = append(f.writes, bytes.Clone(p))
	return len(p), nil
}
func (f *fakeRawLine) discardInput() error { f.chunks = nil; return nil }
func (f *fakeRawLine) Close() error        { f.closed = true; return nil }

func TestReadRTUResponse(t *testing.T) {
	resp := pduBytes(t, "11 03 06 AE41 5652 4340 49AD")
	tests := []struct {
		name   string
		chunks [][]byte
		want   []byte
		err    string
	}{
		{"one chunk", [][]byte{resp}, resp, ""},
		{"byte by byte", func() (c [][]byte) {
			for _, b := range resp {
				c = append(c, []byte{b})
			}
			return c
		}(), resp, ""},
		{"truncated", [][]byte{resp[:7]}, nil, "truncated: 7 of 11"},
		{"nothing", nil, nil, "no answer"},
		{"oversized device id", [][]byte{pduBytes(t, "01 2B 0E 01 01 00 00 02 00 FF"), make([]byte, 255)}, nil, "above the maximum"},
		{"unknown function ends at silence", [][]byte{pduBytes(t, "01 41 00 01 02")}, pduBytes(t, "01 41 00 01 02"), ""},
	}
	for _, tt := range tests {
		l := newLine(&fakeRawLine{chunks: tt.chunks}, serialConfig{baud: 19200, dataBits: 8, parity: parityEven, stopBits: 1}, true)
		got, err := l.readRTUResponse(context.Background(), time.Now().Add(100*time.Millisecond))
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		case tt.err == "" && (err != nil || !bytes.Equal(got, tt.want)):
			t.Errorf("%s: got % X, %v; want % X", tt.name, got, err, tt.want)
		}
	}
}

func TestReadASCIIFrame(t *testing.T) {
	frame := []byte(":1103006B00037E\r\n")
	tests := []struct {
		name   string
		chunks [][]byte
		want   string
		err    string
	}{
		{"one chunk", [][]byte{frame}, string(frame), ""},
		{"noise before", [][]byte{[]byte("xx\r\n"), frame}, string(frame), ""},
		{"restart", [][]byte{[]byte(":0103"), frame}, string(frame), ""},
		{"split", [][]byte{frame[:5], frame[5:]}, string(frame), ""},
		{"truncated", [][]byte{frame[:9]}, "", "truncated"},
		{"nothing", nil, "", "no answer"},
	}
	for _, tt := range tests {
		l := newLine(&fakeRawLine{chunks: tt.chunks}, serialConfig{}, false)
		got, err := l.readASCIIFrame(context.Background(), time.Now().Add(100*time.Millisecond), 0, 30*time.Millisecond)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		case tt.err == "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestParseSerialURL(t *testing.T) {
	tests := []struct {
		url  string
		path string
		cfg  string // serialConfig.String()
		bits int
		err  string
	}{
		{url: "rtu:///dev/ttyUSB0", path: "/dev/ttyUSB0", cfg: "19200 8E1", bits: 11},
		{url: "rtu:///dev/ttyUSB0?baud=9600&parity=N&databits=8&stopbits=1", path: "/dev/ttyUSB0", cfg: "9600 8N1", bits: 10},
		{url: "rtu:///dev/ttyUSB0?baud=9600&parity=none", path: "/dev/ttyUSB0", cfg: "9600 8N2", bits: 11},
		{url: "ascii:///dev/ttyS1", path: "/dev/ttyS1", cfg: "19200 7E1", bits: 10},
		{url: "ascii:///dev/ttyS1?databits=8&parity=O&chartimeout=500ms", path: "/dev/ttyS1", cfg: "19200 8O1", bits: 11},
		{url: "rtu://dev/ttyUSB0", err: "three slashes"},
		{url: "rtu://", err: "missing serial device"},
		{url: "rtu:///dev/x?baud=fast", err: "baud"},
		{url: "rtu:///dev/x?parity=X", err: "parity"},
		{url: "rtu:///dev/x?databits=7", err: "RTU needs 8"},
		{url: "rtu:///dev/x?stopbits=3", err: "stopbits"},
		{url: "rtu:///dev/x?baudrate=9600", err: `unknown parameter "baudrate"`},
		{url: "rtu:///dev/x?chartimeout=1s", err: `unknown parameter "chartimeout"`},
		{url: "rtuovertcp://gw:4001?baud=9600", err: "unknown parameter"},
		{url: "rtuovertcp://gw", err: "missing port"},
	}
	for _, tt := range tests {
		ep, err := parseURL(tt.url)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseURL(%q) err = %v, want it to contain %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if ep.path != tt.path || ep.serial.String() != tt.cfg || ep.serial.bitsPerChar() != tt.bits {
			t.Errorf("parseURL(%q) = %s %s (%d bits), want %s %s (%d bits)", tt.url, ep.path, ep.serial, ep.serial.bitsPerChar(), tt.path, tt.cfg, tt.bits)
		}
	}
	ep, err := parseURL("rtuovertcp://127.0.0.1:5021?turnaround=50ms")
	if err != nil || ep.addr != "127.0.0.1:5021" || ep.serial.turnaround != 50*time.Millisecond {
		t.Errorf("rtuovertcp: %+v, %v", ep, err)
	}
}
