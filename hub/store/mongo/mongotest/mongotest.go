// Package mongotest gives tests a MongoDB: the one named by
// GRIDEDGE_MONGODB_URI, or else the Mongo wire-protocol server
// mongo-java-server, started once per test binary by scripts/mongo-server.sh.
// Without either, tests skip with a message, and fail when
// GRIDEDGE_REQUIRE_INTEROP=1.
package mongotest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Kinds of server.
const (
	KindMongoDB    = "mongodb"
	KindJavaServer = "mongo-java-server"
)

var (
	once  sync.Once
	srv   server
	dbSeq atomic.Int64
)

type server struct {
	uri   string
	kind  string
	err   error
	cmd   *exec.Cmd
	stdin io.Closer
}

// URI returns the server's URI and kind, starting it on first use.
func URI(tb testing.TB) (uri, kind string) {
	tb.Helper()
	once.Do(start)
	if srv.err != nil {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			tb.Fatalf("no MongoDB for the mongo backend tests: %v", srv.err)
		}
		tb.Skipf("no MongoDB for the mongo backend tests (set GRIDEDGE_MONGODB_URI, or install Java 17 and maven and run scripts/mongo-server.sh fetch): %v", srv.err)
	}
	return srv.uri, srv.kind
}

// DatabaseName returns a database name not used before in this process.
func DatabaseName() string {
	return fmt.Sprintf("gridedge_test_%d_%d", os.Getpid(), dbSeq.Add(1))
}

// Stop stops a server this package started; call it from TestMain after m.Run.
func Stop() {
	if srv.cmd == nil {
		return
	}
	srv.stdin.Close() // the server exits when its stdin closes
	done := make(chan struct{})
	go func() { _ = srv.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = srv.cmd.Process.Kill()
		<-done
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "mongo-server.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("scripts/mongo-server.sh not found above the test directory")
		}
		dir = parent
	}
}

func start() {
	if uri := os.Getenv("GRIDEDGE_MONGODB_URI"); uri != "" {
		srv.uri, srv.kind = uri, KindMongoDB
		return
	}
	srv.kind = KindJavaServer
	root, err := repoRoot()
	if err != nil {
		srv.err = err
		return
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "mongo-server.sh"), "run")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		srv.err = err
		return
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		srv.err = err
		return
	}
	if err := cmd.Start(); err != nil {
		srv.err = fmt.Errorf("start scripts/mongo-server.sh: %w", err)
		return
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "mongodb://") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			srv.err = fmt.Errorf("scripts/mongo-server.sh did not print a URI (got %q): is Java 17 installed, could mvn fetch the jars?", line)
			return
		}
		srv.uri, srv.cmd, srv.stdin = line, cmd, stdin
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		srv.err = fmt.Errorf("scripts/mongo-server.sh printed no URI within 3 minutes")
	}
}
