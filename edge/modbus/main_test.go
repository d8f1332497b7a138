package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines of this package outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitNoLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked after tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines running code of this
// package, other than the caller's.
func leakedGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		if strings.Contains(g, "edge/modbus.") && !strings.Contains(g, "edge/modbus.TestMain") &&
			!strings.Contains(g, "edge/modbus.waitNoLeaks") && !strings.Contains(g, "testing.tRunner") {
			leaked = append(leaked, g)
		}
	}
	return strings.Join(leaked, "\n\n")
}

func waitNoLeaks(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaked := leakedGoroutines()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer serves h on a loopback listener until the test ends and
// returns its tcp:// URL. Cleanup checks that Serve returns nil promptly.
func startServer(t testing.TB, h Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, &Server{Handler: h, Logger: testLogger(t)}, l)
}

func serveOn(t testing.TB, s *Server, l net.Listener) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	return "tcp://" + l.Addr().String()
}

func newTestClient(t testing.TB, url string, opts ClientOptions) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	c, err := NewClient(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fakeServer accepts connections on loopback and runs serve for each in
// its own goroutine; it stops (closing listener and connections) when the
// test ends.
func fakeServer(t testing.TB, serve func(conn net.Conn, n int)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 100)
	go func() {
		defer close(done)
		for n := 0; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
			go serve(c, n)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return "tcp://" + l.Addr().String()
}

// readRequest reads one MBAP request from conn.
func readRequest(conn net.Conn) (mbapHeader, PDU, error) {
	var buf [maxTCPADU]byte
	h, p, err := readTCPFrame(conn, &buf)
	if err != nil {
		return h, p, err
	}
	return h, PDU{Function: p.Function, Data: append([]byte(nil), p.Data...)}, nil
}

// drain reads conn until it is closed by the peer and reports that.
func drain(conn net.Conn) error {
	_, err := io.Copy(io.Discard, conn)
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
