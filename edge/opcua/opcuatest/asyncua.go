// Package opcuatest runs the asyncua (Python) OPC-UA test server of
// scripts/interop/asyncua_server.py for the tests of the packages that
// speak OPC-UA. A test that needs it skips when python3 with asyncua is
// missing, and fails instead when GRIDEDGE_REQUIRE_INTEROP=1.
package opcuatest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// TB is the part of testing.TB the server needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	Logf(format string, args ...any)
	Failed() bool
}

// NeedAsyncua skips (or fails, with GRIDEDGE_REQUIRE_INTEROP=1) without
// python3 and asyncua.
func NeedAsyncua(t TB) {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import asyncua").CombinedOutput()
	if err == nil {
		return
	}
	msg := "python3 with asyncua is not installed: run scripts/install-test-deps.sh (pip install asyncua==2.1.0)"
	if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
		t.Fatalf("%s (GRIDEDGE_REQUIRE_INTEROP=1): %v %s", msg, err, out)
	}
	t.Skip(msg)
}

// Server is a running asyncua server.
type Server struct {
	t      TB
	Port   int
	args   []string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// Start starts the server on a free port with the script's args (see the
// script's doc) and waits until it serves; it is killed when the test ends.
func Start(t TB, args ...string) *Server {
	t.Helper()
	NeedAsyncua(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{t: t, Port: port, args: args}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's endpoint.
func (s *Server) URL() string { return fmt.Sprintf("opc.tcp://127.0.0.1:%d", s.Port) }

// script is the server script's path, found from this file's.
func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "interop", "asyncua_server.py")
}

// Restart starts the server (again, after Stop) on the same port.
func (s *Server) Restart() {
	t := s.t
	t.Helper()
	s.stderr = &bytes.Buffer{}
	s.cmd = exec.Command("python3", append([]string{script(), "--port", strconv.Itoa(s.Port)}, s.args...)...)
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start asyncua server: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "READY" {
				ready <- true
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("asyncua server exited: %s", s.stderr.String())
		}
	case <-time.After(2 * time.Minute): // 10,000 benchmark nodes take a while
		t.Fatalf("asyncua server not ready: %s", s.stderr.String())
	}
}

// Stop kills the server.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	if s.t.Failed() {
		s.t.Logf("asyncua stderr:\n%s", s.stderr.String())
	}
	s.cmd = nil
}
