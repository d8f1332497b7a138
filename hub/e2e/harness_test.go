package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildFlags are passed to go build (race_test.go adds -race).
var buildFlags = []string{}

var bins struct {
	once sync.Once
	dir  string
	err  error
}

// repoRoot is the repository's top directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// binaries builds gridedge-hub, gridedge-agent and gridedge once per test binary.
func binaries(t testing.TB) string {
	t.Helper()
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "gridedge-e2e-bin-")
		if bins.err != nil {
			return
		}
		bins.err = buildBinaries(bins.dir, nil, buildFlags)
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	return bins.dir
}

// buildBinaries builds gridedge-hub, gridedge-agent and gridedge into dir
// with extra environment variables and go build flags.
func buildBinaries(dir string, env, flags []string) error {
	root := repoRoot()
	for _, b := range []struct{ module, pkg string }{
		{"hub", "./cmd/gridedge-hub"}, {"edge", "./cmd/gridedge-agent"}, {"edge", "./cmd/gridedge"},
	} {
		args := append([]string{"build", "-C", filepath.Join(root, b.module), "-o", dir + "/"}, flags...)
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// freePort returns a TCP port free on 127.0.0.1 right now.
//
// The port is drawn at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768–60999 by default): a port the kernel
// handed out for ":0" goes back to the ephemeral pool when closed, and an
// outgoing connection of any process could take it before the binary that
// was given it binds it.
func freePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken: draw again
		}
		l.Close()
		return port
	}
	t.Fatal("no free port between 20000 and 32000 after 200 draws")
	return 0
}

// proc is a running binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a binary; its output is shown if the test fails.
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, name, args...)
}

// startEnv runs a binary with extra environment variables.
func startEnv(t testing.TB, env []string, name string, args ...string) *proc {
	t.Helper()
	return startFrom(t, binaries(t), env, name, args...)
}

// startFrom runs the binary name from directory dir with extra environment variables.
func startFrom(t testing.TB, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(dir, name), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() || os.Getenv("GRIDEDGE_E2E_LOGS") == "1" {
			t.Logf("--- output of %s %s:\n%s", name, strings.Join(args, " "), p.log.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits (then SIGKILL after 10s).
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// writeFile writes a file in dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// getJSON fetches url and decodes the body into v; it returns the status code.
func getJSON(url string, v any) (int, error) {
	return getJSONAuth(url, nil, v)
}

// getJSONAuth is getJSON with request headers (credentials).
func getJSONAuth(url string, headers map[string]string, v any) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for k, h := range headers {
		req.Header.Set(k, h)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, fmt.Errorf("decode %s: %w (body %q)", url, err, body)
	}
	return resp.StatusCode, nil
}

// eventually polls cond every interval until it holds or timeout passes.
func eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
