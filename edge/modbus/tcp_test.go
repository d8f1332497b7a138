package modbus

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestTCPFrame(t *testing.T) {
	// Implementation Guide V1.0b style frame: transaction 0x1501, unit 0xFF,
	// read holding registers 4+1.
	b := pduBytes(t, "1501 0000 0006 FF 03 0004 0001")
	req, _ := NewReadRequest(FuncReadHoldingRegisters, 4, 1)
	if got := appendTCPFrame(nil, 0x1501, 0xFF, req); !bytes.Equal(got, b) {
		t.Errorf("appendTCPFrame = % X, want % X", got, b)
	}
	h, p, err := parseTCPFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if h != (mbapHeader{TxID: 0x1501, ProtoID: 0, Length: 6, Unit: 0xFF}) || p.Function != 3 || !bytes.Equal(p.Data, req.Data) {
		t.Errorf("parseTCPFrame = %+v %+v", h, p)
	}
	var buf [maxTCPADU]byte
	h2, p2, err := readTCPFrame(bytes.NewReader(b), &buf)
	if err != nil || h2 != h || p2.Function != p.Function || !bytes.Equal(p2.Data, p.Data) {
		t.Errorf("readTCPFrame = %+v %+v %v", h2, p2, err)
	}
}

func TestTCPFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		readErr error // nil: a *frameError
	}{
		{"empty", "", io.EOF},
		{"short header", "0001 0000 00", io.ErrUnexpectedEOF},
		{"length 0", "0001 0000 0000 01", nil},
		{"length 1", "0001 0000 0001 01", nil},
		{"length 255", "0001 0000 00FF 01", nil},
		{"truncated body", "0001 0000 0006 01 03 00", io.ErrUnexpectedEOF},
		{"header only", "0001 0000 0006 01", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		b := pduBytes(t, tt.frame)
		if _, _, err := parseTCPFrame(b); err == nil {
			t.Errorf("%s: parseTCPFrame succeeded", tt.name)
		}
		var buf [maxTCPADU]byte
		_, _, err := readTCPFrame(bytes.NewReader(b), &buf)
		var fe *frameError
		switch {
		case tt.readErr == nil && !errors.As(err, &fe):
			t.Errorf("%s: readTCPFrame err = %v, want *frameError", tt.name, err)
		case tt.readErr != nil && !errors.Is(err, tt.readErr):
			t.Errorf("%s: readTCPFrame err = %v, want %v", tt.name, err, tt.readErr)
		}
	}
	if _, _, err := parseTCPFrame(pduBytes(t, "0001 0000 0006 01 03 0000 0001 00")); err == nil {
		t.Error("parseTCPFrame accepted a trailing byte")
	}
}

// TestTCPFrameMaxSize: the largest PDU (253 bytes) makes a 260-byte frame.
func TestTCPFrameMaxSize(t *testing.T) {
	p := NewRegistersResponse(FuncReadHoldingRegisters, make([]uint16, MaxReadRegisters))
	if got := 1 + len(p.Data); got != 252 {
		t.Fatalf("125-register response PDU is %d bytes", got)
	}
	p = PDU{Function: 0x2B, Data: make([]byte, MaxPDUSize-1)}
	b := appendTCPFrame(nil, 1, 1, p)
	if len(b) != 260 {
		t.Fatalf("frame is %d bytes, want 260", len(b))
	}
	var buf [maxTCPADU]byte
	if _, got, err := readTCPFrame(bytes.NewReader(b), &buf); err != nil || len(got.Data) != MaxPDUSize-1 {
		t.Errorf("readTCPFrame = %d bytes, %v", len(got.Data), err)
	}
}
