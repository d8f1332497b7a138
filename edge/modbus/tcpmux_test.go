package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// addrAnswer is the register value the fake servers below return for a
// read of one register at addr, so that a caller can tell its answer.
func addrAnswer(addr uint16) uint16 { return 1000 + addr }

// answerFrame is the MBAP response to a read of holding registers h/req.
func answerFrame(h mbapHeader, req PDU) []byte {
	addr, qty, err := ParseReadRequest(req)
	if err != nil {
		return appendTCPFrame(nil, h.TxID, h.Unit, NewExceptionResponse(req.Function, IllegalDataValue))
	}
	regs := make([]uint16, qty)
	for i := range regs {
		regs[i] = addrAnswer(addr + uint16(i))
	}
	return appendTCPFrame(nil, h.TxID, h.Unit, NewRegistersResponse(req.Function, regs))
}

func readOne(ctx context.Context, c *Client, addr uint16) error {
	got, err := c.ReadHoldingRegisters(ctx, 1, addr, 1)
	if err != nil {
		return err
	}
	if got[0] != addrAnswer(addr) {
		return fmt.Errorf("read %d: got %d, want %d (someone else's answer)", addr, got[0], addrAnswer(addr))
	}
	return nil
}

// TestMuxConcurrentCallers: callers sharing a client with 4 requests in
// flight against the Server each get their own answers.
func TestMuxConcurrentCallers(t *testing.T) {
	mem := NewMemory()
	const callers, perCaller = 16, 50
	for g := range callers {
		for i := range perCaller {
			mem.SetRegisters(1, HoldingRegisters, uint16(g*1000+i*2), uint16(g), uint16(i))
		}
	}
	c := newTestClient(t, startServer(t, mem), ClientOptions{MaxInFlight: 4})
	if c.mux == nil || c.tr != nil {
		t.Fatal("MaxInFlight 4 did not select the pipelining transport")
	}
	var wg sync.WaitGroup
	errs := make(chan error, callers*perCaller)
	for g := range callers {
		wg.Go(func() {
			for i := range perCaller {
				got, err := c.ReadHoldingRegisters(context.Background(), 1, uint16(g*1000+i*2), 2)
				if err != nil {
					errs <- err
					continue
				}
				if got[0] != uint16(g) || got[1] != uint16(i) {
					errs <- fmt.Errorf("caller %d read %d: got %v", g, i, got)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMuxOutOfOrder: a device that answers pipelined requests out of
// order (here: reads two, answers the second first).
func TestMuxOutOfOrder(t *testing.T) {
	var pairs atomic.Int32
	url := fakeServer(t, func(conn net.Conn, _ int) {
		for {
			h1, r1, err := readRequest(conn)
			if err != nil {
				return
			}
			h2, r2, err := readRequest(conn)
			if err != nil {
				return
			}
			pairs.Add(1)
			out := append(answerFrame(h2, r2), answerFrame(h1, r1)...)
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	})
	c := newTestClient(t, url, ClientOptions{MaxInFlight: 2, Timeout: 2 * time.Second})
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { errs[i] = readOne(context.Background(), c, uint16(10*round+i)) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if n := pairs.Load(); n != 5 {
		t.Errorf("server answered %d pairs, want 5", n)
	}
}

// slowAddr is the address the fake server of unansweredServer answers late
// (after lateBy) or never (lateBy 0).
const slowAddr = 13

// unansweredServer answers every read at once, except reads of slowAddr.
// It counts connections in conns.
func unansweredServer(t *testing.T, lateBy time.Duration, conns *atomic.Int32) string {
	return fakeServer(t, func(conn net.Conn, _ int) {
		conns.Add(1)
		var wmu sync.Mutex
		write := func(b []byte) {
			wmu.Lock()
			defer wmu.Unlock()
			_, _ = conn.Write(b)
		}
		var late sync.WaitGroup
		defer late.Wait()
		for {
			h, req, err := readRequest(conn)
			if err != nil {
				return
			}
			if addr, _, _ := ParseReadRequest(req); addr == slowAddr {
				if lateBy > 0 {
					late.Go(func() {
						time.Sleep(lateBy)
						// Another register's value: taking it would be a mix-up.
						write(answerFrame(h, PDU{req.Function, []byte{0, 99, 0, 1}}))
					})
				}
				continue
			}
			write(answerFrame(h, req))
		}
	})
}

// runOthers reads other registers from 3 callers until stop is closed and
// returns how many reads succeeded, failing t for any error.
func runOthers(t *testing.T, c *Client, stop chan struct{}) *atomic.Int32 {
	var ok atomic.Int32
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				if err := readOne(context.Background(), c, uint16(100*(g+1)+i%50)); err != nil {
					t.Errorf("caller %d: %v", g, err)
					return
				}
				ok.Add(1)
			}
		})
	}
	t.Cleanup(wg.Wait)
	return &ok
}

// TestMuxUnansweredRequest: a request the device never answers times out
// alone; the others go on on the same connection, and its late reply is
// discarded.
func TestMuxUnansweredRequest(t *testing.T) {
	var conns atomic.Int32
	// the late reply comes long after the timeout, so a loaded machine
	// cannot deliver it in time
	url := unansweredServer(t, 1500*time.Millisecond, &conns)
	c := newTestClient(t, url, ClientOptions{MaxInFlight: 4, Timeout: 200 * time.Millisecond})
	stop := make(chan struct{})
	ok := runOthers(t, c, stop)
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	err := readOne(context.Background(), c, slowAddr)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("unanswered request: err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 1200*time.Millisecond {
		t.Errorf("timeout after %v, want about 200ms", d)
	}
	time.Sleep(1500 * time.Millisecond) // the late reply comes and is discarded
	close(stop)
	t.Cleanup(func() {
		if ok.Load() < 10 {
			t.Errorf("only %d other reads succeeded", ok.Load())
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1: the timeout must not close a connection that still answers", n)
		}
	})
}

// TestMuxContextCancel: cancelling one request leaves the others and the
// connection alone.
func TestMuxContextCancel(t *testing.T) {
	var conns atomic.Int32
	url := unansweredServer(t, 0, &conns)
	c := newTestClient(t, url, ClientOptions{MaxInFlight: 4, Timeout: 5 * time.Second})
	stop := make(chan struct{})
	ok := runOthers(t, c, stop)
	time.Sleep(20 * time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := readOne(ctx, c, slowAddr); !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := readOne(ctx, c, slowAddr); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: err = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	t.Cleanup(func() {
		if ok.Load() < 10 {
			t.Errorf("only %d other reads succeeded", ok.Load())
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})
}

// TestMuxDeviceSilent: when the device stops answering altogether, every
// outstanding request fails with ErrTimeout, the connection is closed and
// a later request redials.
func TestMuxDeviceSilent(t *testing.T) {
	silentClosed := make(chan error, 1)
	url := fakeServer(t, func(conn net.Conn, n int) {
		if n == 0 { // answer one request, then fall silent
			h, req, err := readRequest(conn)
			if err != nil {
				return
			}
			_, _ = conn.Write(answerFrame(h, req))
			silentClosed <- drain(conn)
			return
		}
		for {
			h, req, err := readRequest(conn)
			if err != nil {
				return
			}
			if _, err := conn.Write(answerFrame(h, req)); err != nil {
				return
			}
		}
	})
	c := newTestClient(t, url, ClientOptions{MaxInFlight: 4, Timeout: 200 * time.Millisecond})
	if err := readOne(context.Background(), c, 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = readOne(context.Background(), c, uint16(10+i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("request %d: err = %v, want ErrTimeout", i, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("outstanding requests failed after %v, want about 200ms", d)
	}
	select {
	case err := <-silentClosed:
		if err != nil {
			t.Errorf("silent connection ended with %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("client did not close the silent connection")
	}
	if err := readOne(context.Background(), c, 2); err != nil {
		t.Fatalf("after redial: %v", err)
	}
}

// TestMuxRedialsAfterIdleClose: a connection the device closed while idle
// is replaced transparently, as with one request in flight.
func TestMuxRedialsAfterIdleClose(t *testing.T) {
	mem := NewMemory()
	mem.SetRegisters(1, HoldingRegisters, 5, 55)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := serveOn(t, &Server{Handler: mem, Logger: testLogger(t), IdleTimeout: 50 * time.Millisecond}, l)
	c := newTestClient(t, url, ClientOptions{MaxInFlight: 4})
	for range 3 {
		got, err := c.ReadHoldingRegisters(context.Background(), 1, 5, 1)
		if err != nil || got[0] != 55 {
			t.Fatalf("got %v, %v", got, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// TestMuxClose: Close fails outstanding requests with net.ErrClosed and
// stops the reader; requests after Close fail.
func TestMuxClose(t *testing.T) {
	url := fakeServer(t, func(conn net.Conn, _ int) { _ = drain(conn) })
	c := newTestClient(t, url, ClientOptions{MaxInFlight: 4, Timeout: 10 * time.Second})
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- readHolding(c) }()
	}
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		select {
		case err := <-errs:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("outstanding request: err = %v, want net.ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("outstanding request not ended by Close")
		}
	}
	if err := readHolding(c); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: err = %v, want net.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewClientMaxInFlight(t *testing.T) {
	for _, url := range []string{"rtu:///dev/ttyUSB0", "ascii:///dev/ttyUSB0", "rtuovertcp://127.0.0.1:5021"} {
		c, err := NewClient(url, ClientOptions{MaxInFlight: 2})
		if err == nil {
			_ = c.Close()
			t.Errorf("%s: MaxInFlight 2 accepted", url)
			continue
		}
		if !strings.Contains(err.Error(), "MaxInFlight 2 needs a tcp://") {
			t.Errorf("%s: err = %v", url, err)
		}
	}
	for _, n := range []int{-1, maxInFlightLimit + 1} {
		if _, err := NewClient("tcp://h", ClientOptions{MaxInFlight: n}); err == nil {
			t.Errorf("MaxInFlight %d accepted", n)
		}
	}
	for _, n := range []int{0, 1} {
		c, err := NewClient("rtuovertcp://127.0.0.1:5021", ClientOptions{MaxInFlight: n})
		if err != nil {
			t.Errorf("rtuovertcp MaxInFlight %d: %v", n, err)
			continue
		}
		_ = c.Close()
		c, err = NewClient("tcp://h", ClientOptions{MaxInFlight: n})
		if err != nil || c.mux != nil {
			t.Errorf("tcp MaxInFlight %d: %v, pipelining %v", n, err, c.mux != nil)
		}
	}
}

// BenchmarkConcurrentReads: 32 goroutines reading 10 registers each through
// one client over loopback, one request in flight versus 8.
func BenchmarkConcurrentReads(b *testing.B) {
	mem := NewMemory()
	regs := make([]uint16, 32*10)
	for i := range regs {
		regs[i] = uint16(i)
	}
	mem.SetRegisters(1, HoldingRegisters, 0, regs...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := serveOn(b, &Server{Handler: mem, Logger: slog.New(slog.DiscardHandler)}, l)
	for _, inFlight := range []int{1, 8} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			c, err := NewClient(url, ClientOptions{MaxInFlight: inFlight})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for g := range 32 {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						got, err := c.ReadHoldingRegisters(ctx, 1, uint16(g*10), 10)
						if err != nil || got[9] != uint16(g*10+9) {
							b.Errorf("got %v, %v", got, err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
