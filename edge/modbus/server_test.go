package modbus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawConn dials the server for byte-level tests.
func rawConn(t *testing.T, url string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	return conn
}

// exchangeRaw writes req and reads one response frame.
func exchangeRaw(t *testing.T, conn net.Conn, req []byte) []byte {
	t.Helper()
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	var buf [maxTCPADU]byte
	h, p, err := readTCPFrame(conn, &buf)
	if err != nil {
		t.Fatalf("read response to % X: %v", req, err)
	}
	return appendTCPFrame(nil, h.TxID, h.Unit, p)
}

func TestServerRequests(t *testing.T) {
	mem := NewMemory()
	mem.SetRegisters(0x11, HoldingRegisters, 0x6B, 0x022B, 0, 0x64)
	url := startServer(t, mem)
	conn := rawConn(t, url)
	tests := []struct {
		name, req, resp string
	}{
		{"read holding registers", "1234 0000 0006 11 03 006B 0003", "1234 0000 0009 11 03 06 022B 0000 0064"},
		{"unknown function", "0001 0000 0002 11 07", "0001 0000 0003 11 87 01"},
		{"function 0", "0001 0000 0002 11 00", "0001 0000 0003 11 80 01"},
		{"exception bit in request", "0002 0000 0006 11 83 006B 0003", "0002 0000 0003 11 83 01"},
		{"truncated PDU", "0003 0000 0004 11 03 00 6B", "0003 0000 0003 11 83 03"},
		{"quantity 0", "0004 0000 0006 11 03 006B 0000", "0004 0000 0003 11 83 03"},
		{"quantity 126", "0005 0000 0006 11 04 0000 007E", "0005 0000 0003 11 84 03"},
		{"past end of address space", "0006 0000 0006 11 03 FFFF 0002", "0006 0000 0003 11 83 02"},
		{"bad coil value", "0007 0000 0006 11 05 00AC 1234", "0007 0000 0003 11 85 03"},
		{"write coils byte count", "0008 0000 0008 11 0F 0013 000A 01 CD", "0008 0000 0003 11 8F 03"},
		{"MEI type not supported", "0009 0000 0005 11 2B 0D 01 00", "0009 0000 0003 11 AB 01"},
		{"device id code 0", "000A 0000 0005 11 2B 0E 00 00", "000A 0000 0003 11 AB 03"},
		// A frame with protocol id 1 is skipped; the next is answered.
		{"protocol id skipped", "000B 0001 0006 11 03 006B 0001" + "000C 0000 0006 11 03 006B 0001", "000C 0000 0005 11 03 02 022B"},
	}
	for _, tt := range tests {
		got := exchangeRaw(t, conn, pduBytes(t, tt.req))
		if want := pduBytes(t, tt.resp); !bytes.Equal(got, want) {
			t.Errorf("%s: response % X, want % X", tt.name, got, want)
		}
	}
}

// TestServerPipelining: requests sent back to back are answered in order.
func TestServerPipelining(t *testing.T) {
	mem := NewMemory()
	for i := range 10 {
		mem.SetRegisters(1, HoldingRegisters, uint16(i), uint16(100+i))
	}
	conn := rawConn(t, startServer(t, mem))
	var out []byte
	for i := range 10 {
		req, _ := NewReadRequest(FuncReadHoldingRegisters, uint16(i), 1)
		out = appendTCPFrame(out, uint16(i), 1, req)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	var buf [maxTCPADU]byte
	for i := range 10 {
		h, p, err := readTCPFrame(conn, &buf)
		if err != nil {
			t.Fatal(err)
		}
		regs, err := ParseRegistersResponse(p, FuncReadHoldingRegisters, 1)
		if h.TxID != uint16(i) || err != nil || regs[0] != uint16(100+i) {
			t.Errorf("response %d: txid %d, %v, %v", i, h.TxID, regs, err)
		}
	}
}

// TestServerDropsBadFrames: an impossible MBAP length closes the connection.
func TestServerDropsBadFrames(t *testing.T) {
	url := startServer(t, NewMemory())
	for _, frame := range []string{
		"0001 0000 0000 01",                             // length 0
		"0001 0000 0001 01",                             // length 1: no function code
		"0001 0000 00FF 01" + strings.Repeat("00", 254), // length 255
		"0001 0000 FFFF 01 03",
	} {
		conn := rawConn(t, url)
		if _, err := conn.Write(pduBytes(t, frame)); err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, conn)
		if err != nil || n != 0 {
			t.Errorf("frame %.20s...: read %d bytes, %v; want the connection closed without reply", frame, n, err)
		}
	}
	// A connection closed mid-frame is no problem either.
	conn := rawConn(t, url)
	_, _ = conn.Write(pduBytes(t, "0001 0000 0006 01 03"))
	_ = conn.Close()
	// The server is still serving.
	c := newTestClient(t, url, ClientOptions{})
	if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
		t.Fatal(err)
	}
}

func TestServerHandlerResponseTooLarge(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, unit byte, req PDU) (PDU, error) {
		return PDU{Function: req.Function, Data: make([]byte, 253)}, nil
	})
	c := newTestClient(t, startServer(t, h), ClientOptions{})
	if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, ErrServerDeviceFailure) {
		t.Errorf("err = %v, want ErrServerDeviceFailure", err)
	}
}

func TestServerStopsOnCancel(t *testing.T) {
	mem := NewMemory()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Handler: mem, Logger: testLogger(t)}).Serve(ctx, l) }()
	url := "tcp://" + l.Addr().String()

	// Several open connections: idle, mid-frame, and after a request.
	var conns []net.Conn
	for range 3 {
		conns = append(conns, rawConn(t, url))
	}
	_, _ = conns[1].Write([]byte{0, 1, 0})
	c := newTestClient(t, url, ClientOptions{})
	if _, err := c.ReadCoils(context.Background(), 1, 0, 8); err != nil {
		t.Fatal(err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	for i, conn := range conns {
		// A socket closed with unread input (the mid-frame bytes, when the
		// server had not read them yet) resets the connection: closed too.
		if n, err := io.Copy(io.Discard, conn); n != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
			t.Errorf("conn %d: read %d, %v; want closed", i, n, err)
		}
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepting")
	}
	if leaked := waitNoLeaks(2 * time.Second); strings.Contains(leaked, "(*Server)") {
		t.Errorf("server goroutines leaked:\n%s", leaked)
	}
}

func TestServerMaxConns(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := serveOn(t, &Server{Handler: NewMemory(), MaxConns: 1, Logger: testLogger(t)}, l)
	c1 := newTestClient(t, url, ClientOptions{})
	if _, err := c1.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	c2 := newTestClient(t, url, ClientOptions{})
	if _, err := c2.ReadHoldingRegisters(context.Background(), 1, 0, 1); err == nil {
		t.Error("second connection served, want refused")
	}
	_ = c1.Close()
	var lastErr error
	for range 50 { // the server notices c1's close asynchronously
		if _, lastErr = c2.ReadHoldingRegisters(context.Background(), 1, 0, 1); lastErr == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lastErr != nil {
		t.Errorf("after first closed: %v", lastErr)
	}
}

func TestServeErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Server{}).Serve(context.Background(), l); err == nil {
		t.Error("Serve without handler succeeded")
	}
	// A listener closed by someone else is an error, not a clean stop.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- (&Server{Handler: NewMemory()}).Serve(context.Background(), l) }()
	time.Sleep(20 * time.Millisecond)
	_ = l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve = %v, want net.ErrClosed", err)
	}
	if err := (&Server{Handler: NewMemory()}).ListenAndServe(context.Background(), "rtu://"+t.TempDir()+"/ttyNone"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ListenAndServe(rtu, missing port) = %v, want not exist", err)
	}
	if err := (&Server{}).ListenAndServe(context.Background(), "rtu:///dev/ttyS0"); err == nil {
		t.Error("ListenAndServe without handler succeeded")
	}
}

func TestListenAndServe(t *testing.T) {
	// Find a free port, then serve on it by URL.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	mem := NewMemory()
	mem.SetRegisters(1, InputRegisters, 0, 9)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Handler: mem}).ListenAndServe(ctx, "tcp://"+addr) }()
	c := newTestClient(t, "tcp://"+addr, ClientOptions{})
	var got []uint16
	for range 100 {
		if got, err = c.ReadInputRegisters(context.Background(), 1, 0, 1); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || !reflect.DeepEqual(got, []uint16{9}) {
		t.Errorf("got %v, %v", got, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe = %v", err)
	}
}
