//go:build linux

package modbus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// listenAndServe runs s.ListenAndServe(url) until the test ends.
func listenAndServe(t testing.TB, s *Server, url string) {
	t.Helper()
	if s.Logger == nil {
		s.Logger = testLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, url) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenAndServe(%s) returned %v, want nil", url, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("ListenAndServe(%s) did not return after cancel", url)
		}
	})
}

// serveRTUOverTCP serves h as RTU over TCP on loopback and returns the URL.
func serveRTUOverTCP(t testing.TB, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Logger == nil {
		s.Logger = testLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeRTUOverTCP(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRTUOverTCP returned %v", err)
		}
	})
	return "rtuovertcp://" + l.Addr().String()
}

func TestAllFunctionsOverSerialLines(t *testing.T) {
	t.Run("rtu", func(t *testing.T) {
		checkAllFunctions(t, func(t *testing.T, h Handler) string {
			a, b := ptyPair(t)
			listenAndServe(t, &Server{Handler: h}, "rtu://"+a.path+"?baud=115200")
			return "rtu://" + b.path + "?baud=115200"
		})
	})
	t.Run("ascii", func(t *testing.T) {
		checkAllFunctions(t, func(t *testing.T, h Handler) string {
			a, b := ptyPair(t)
			listenAndServe(t, &Server{Handler: h}, "ascii://"+a.path+"?baud=9600")
			return "ascii://" + b.path + "?baud=9600"
		})
	})
	t.Run("rtuovertcp", func(t *testing.T) {
		checkAllFunctions(t, func(t *testing.T, h Handler) string {
			return serveRTUOverTCP(t, &Server{Handler: h})
		})
	})
}

// TestSerialExceptions: exception responses cross RTU and ASCII framing.
func TestSerialExceptions(t *testing.T) {
	for _, scheme := range []string{"rtu", "ascii"} {
		mem := NewMemory()
		mem.Restrict(1, HoldingRegisters, Range{0, 10})
		a, b := ptyPair(t)
		listenAndServe(t, &Server{Handler: mem}, scheme+"://"+a.path)
		c := newTestClient(t, scheme+"://"+b.path, ClientOptions{Timeout: time.Second})
		_, err := c.ReadHoldingRegisters(context.Background(), 1, 100, 2)
		if !errors.Is(err, ErrIllegalDataAddress) {
			t.Errorf("%s: err = %v, want ErrIllegalDataAddress", scheme, err)
		}
	}
}

// TestSerialServerUnits: a slave ignores other addresses silently and never
// answers a broadcast, which it executes for each of its units.
func TestSerialServerUnits(t *testing.T) {
	mem := NewMemory()
	mem.SetUnknownUnitResponse(GatewayPathUnavailable) // must not leak onto the bus
	a, b := ptyPair(t)
	listenAndServe(t, &Server{Handler: mem, Units: []byte{3, 4}}, "rtu://"+a.path)
	c := newTestClient(t, "rtu://"+b.path+"?turnaround=30ms", ClientOptions{Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	if _, err := c.ReadHoldingRegisters(ctx, 5, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Errorf("unit 5: err = %v, want ErrTimeout", err)
	}
	start := time.Now()
	if err := c.WriteSingleRegister(ctx, 0, 7, 77); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 90*time.Millisecond {
		t.Errorf("broadcast took %v, want the 30ms turnaround", d)
	}
	for _, u := range []byte{3, 4} {
		got, err := c.ReadHoldingRegisters(ctx, u, 7, 1)
		if err != nil || got[0] != 77 {
			t.Errorf("unit %d after broadcast: %v, %v", u, got, err)
		}
	}
}

// TestSerialServerBroadcastSilent checks on the wire that a broadcast gets
// no answer and that overheard traffic between others is skipped.
func TestSerialServerBroadcastSilent(t *testing.T) {
	mem := NewMemory()
	p := openPty(t)
	listenAndServe(t, &Server{Handler: mem, Units: []byte{1}}, "rtu://"+p.path+"?baud=38400")
	time.Sleep(50 * time.Millisecond) // let it open the port
	write := func(b []byte) {
		if _, err := p.master.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	write(appendRTUFrame(nil, 0, NewWriteSingleRegisterRequest(1, 5)))
	p.expectSilence(t, 100*time.Millisecond)
	if got := mem.Registers(1, HoldingRegisters, 1, 1); got[0] != 5 {
		t.Errorf("register after broadcast = %d, want 5", got[0])
	}
	// Another master's exchange with slave 9, noise, then a request for us,
	// all back to back.
	req9, _ := NewReadRequest(FuncReadHoldingRegisters, 0, 2)
	var traffic []byte
	traffic = appendRTUFrame(traffic, 9, req9)
	traffic = appendRTUFrame(traffic, 9, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{1, 2}))
	traffic = append(traffic, 0xFF, 0x00, 0x13)
	req1, _ := NewReadRequest(FuncReadHoldingRegisters, 1, 1)
	traffic = appendRTUFrame(traffic, 1, req1)
	write(traffic)
	want := appendRTUFrame(nil, 1, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{5}))
	if got := p.readFull(t, len(want), time.Second); !bytes.Equal(got, want) {
		t.Errorf("response % X, want % X", got, want)
	}
	p.expectSilence(t, 100*time.Millisecond)
}

// TestSerialClientBadResponses plays a misbehaving slave on the wire.
func TestSerialClientBadResponses(t *testing.T) {
	p := openPty(t)
	c := newTestClient(t, "rtu://"+p.path+"?baud=115200", ClientOptions{Timeout: 200 * time.Millisecond})
	req, _ := NewReadRequest(FuncReadHoldingRegisters, 0, 1)
	good := appendRTUFrame(nil, 1, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{42}))
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 0xFF
	other := appendRTUFrame(nil, 2, NewRegistersResponse(FuncReadHoldingRegisters, []uint16{42}))
	tests := []struct {
		name  string
		reply []byte
		err   error
		msg   string
	}{
		{"good", good, nil, ""},
		{"bad crc", badCRC, ErrInvalidResponse, "CRC"},
		{"other slave", other, ErrInvalidResponse, "from slave 2"},
		{"truncated", good[:5], ErrInvalidResponse, "truncated"},
		{"silent", nil, ErrTimeout, ""},
	}
	for _, tt := range tests {
		// Stale bytes before the request must be flushed.
		if _, err := p.master.Write([]byte{0x01, 0x03, 0x02, 0x00}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		errc := make(chan error, 1)
		go func() {
			got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
			if err == nil && got[0] != 42 {
				err = errors.New("wrong value")
			}
			errc <- err
		}()
		if got := p.readFull(t, 8, time.Second); !bytes.Equal(got, appendRTUFrame(nil, 1, req)) {
			t.Fatalf("%s: request % X", tt.name, got)
		}
		if tt.reply != nil {
			if _, err := p.master.Write(tt.reply); err != nil {
				t.Fatal(err)
			}
		}
		err := <-errc
		if (tt.err == nil) != (err == nil) || (tt.err != nil && !errors.Is(err, tt.err)) || !strings.Contains(errString(err), tt.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tt.name, err, tt.err, tt.msg)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSerialBusShared: clients of one port share one bus (and lock); other
// line settings for the same port are refused; the last Close closes it.
func TestSerialBusShared(t *testing.T) {
	a, b := ptyPair(t)
	mem := NewMemory()
	listenAndServe(t, &Server{Handler: mem}, "rtu://"+a.path)
	url := "rtu://" + b.path
	c1 := newTestClient(t, url, ClientOptions{})
	c2 := newTestClient(t, url+"?turnaround=10ms", ClientOptions{})
	if c1.tr.(*lineTransport).holder != c2.tr.(*lineTransport).holder {
		t.Fatal("two clients of one port do not share its bus")
	}
	if _, err := NewClient(url+"?baud=9600", ClientOptions{}); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("other settings: err = %v, want already in use", err)
	}
	var wg sync.WaitGroup
	for i, c := range []*Client{c1, c2, c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unit := byte(1 + i%2)
			for n := range 20 {
				if err := c.WriteSingleRegister(context.Background(), unit, uint16(i), uint16(n)); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if _, err := c.ReadHoldingRegisters(context.Background(), unit, 0, 4); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = c1.Close()
	serialBuses.Lock()
	_, open := serialBuses.m[b.path]
	serialBuses.Unlock()
	if !open {
		t.Error("bus closed while a client still uses it")
	}
	if _, err := c2.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
		t.Errorf("after the other client closed: %v", err)
	}
	_ = c2.Close()
	serialBuses.Lock()
	_, open = serialBuses.m[b.path]
	serialBuses.Unlock()
	if open {
		t.Error("bus still registered after the last Close")
	}
}

// lockedBuffer collects log output safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSerialPortUnplugged: the adapter disappears (its pty closes) and
// comes back under the same path; the client reopens it by itself, logging
// the loss once.
func TestSerialPortUnplugged(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyUSB0")
	plug := func() {
		a, b := ptyPair(t)
		mem := NewMemory()
		mem.SetRegisters(1, HoldingRegisters, 0, 7)
		listenAndServe(t, &Server{Handler: mem}, "rtu://"+a.path)
		_ = os.Remove(link)
		if err := os.Symlink(b.path, link); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.close() })
		unplugs = append(unplugs, b)
	}
	unplugs = nil
	plug()
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := newTestClient(t, "rtu://"+link, ClientOptions{Timeout: 300 * time.Millisecond, Logger: log})
	ctx := context.Background()
	if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	// Unplug: the pty vanishes with its path.
	unplugs[0].close()
	_ = os.Remove(link)
	var failures int
	for range 5 {
		_, err := c.ReadHoldingRegisters(ctx, 1, 0, 1)
		if err == nil {
			t.Fatal("read succeeded with the port unplugged")
		}
		if !errors.Is(err, ErrPortUnavailable) {
			t.Errorf("unplugged: err = %v, want ErrPortUnavailable", err)
		}
		failures++
	}
	plug()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := c.ReadHoldingRegisters(ctx, 1, 0, 1)
		if err == nil {
			if got[0] != 7 {
				t.Errorf("after replug: %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reopened: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d warnings for %d failed requests, want 1:\n%s", n, failures, out)
	}
	if !strings.Contains(out, "reopened") {
		t.Errorf("no reopened log:\n%s", out)
	}
}

// unplugs holds the client-side ptys of TestSerialPortUnplugged.
var unplugs []*pty

func TestUnitZeroReadOnSerialRefused(t *testing.T) {
	_, b := ptyPair(t)
	c := newTestClient(t, "rtu://"+b.path, ClientOptions{Timeout: 50 * time.Millisecond})
	if _, err := c.ReadHoldingRegisters(context.Background(), 0, 0, 1); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("read from unit 0: err = %v, want ErrInvalidRequest", err)
	}
}

// BenchmarkReadHoldingRegisters125RTU is BenchmarkReadHoldingRegisters125
// over RTU on a pty pair (no real baud rate: it measures the stack).
func BenchmarkReadHoldingRegisters125RTU(b *testing.B) {
	a, p := ptyPair(b)
	mem := NewMemory()
	mem.SetRegisters(1, HoldingRegisters, 124, 124)
	listenAndServe(b, &Server{Handler: mem, Logger: slog.New(slog.DiscardHandler)}, "rtu://"+a.path+"?baud=115200")
	c, err := NewClient("rtu://"+p.path+"?baud=115200", ClientOptions{})
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
