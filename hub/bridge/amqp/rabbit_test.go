package amqp_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// rabbit is a RabbitMQ server (Debian's rabbitmq-server) of the test's
// own: its node name, ports, data and logs are the test's, so it can be
// stopped and started again with its durable queues and messages.
type rabbit struct {
	t          testing.TB
	dir, node  string
	port, dist int
	epmd       int // the test's own Erlang port mapper, stopped at the end
	cmd        *exec.Cmd
	exited     chan struct{}
}

// rabbitServer is the server script; Debian installs it there (the
// /usr/sbin wrapper switches to the rabbitmq user).
const rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRabbit starts a server, or skips (fails with
// GRIDEDGE_REQUIRE_INTEROP=1) when rabbitmq-server is not installed.
func startRabbit(t testing.TB) *rabbit {
	t.Helper()
	if _, err := os.Stat(rabbitServer); err != nil {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("rabbitmq-server is required (GRIDEDGE_REQUIRE_INTEROP=1) but %s is missing: run scripts/install-test-deps.sh", rabbitServer)
		}
		t.Skipf("rabbitmq-server not installed (%s missing; scripts/install-test-deps.sh installs it)", rabbitServer)
	}
	dir, err := os.MkdirTemp("", "gridedge-rabbit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &rabbit{t: t, dir: dir, port: freePort(t), dist: freePort(t), epmd: freePort(t),
		node: fmt.Sprintf("gridedge%d_%d@localhost", os.Getpid(), time.Now().UnixNano()%1e6)}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.start()
	t.Cleanup(func() {
		r.stop()
		// Erlang starts epmd as a daemon outside the server's process
		// group; the test's own port keeps it apart from any other
		// epmd, and it is stopped with the server
		_ = exec.Command("epmd", "-port", strconv.Itoa(r.epmd), "-kill").Run()
	})
	return r
}

func (r *rabbit) url() string { return "amqp://guest:guest@127.0.0.1:" + strconv.Itoa(r.port) + "/" }

func (r *rabbit) start() {
	r.t.Helper()
	log, err := os.OpenFile(filepath.Join(r.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(rabbitServer)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "HOME="+r.dir,
		"RABBITMQ_NODENAME="+r.node, "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(r.port), "RABBITMQ_DIST_PORT="+strconv.Itoa(r.dist),
		"ERL_EPMD_PORT="+strconv.Itoa(r.epmd),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.dir, "mnesia"), "RABBITMQ_LOG_BASE="+filepath.Join(r.dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(r.dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(r.dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(r.dir, "rabbitmq-env.conf"),
		"RABBITMQ_PID_FILE="+filepath.Join(r.dir, "pid"), "RABBITMQ_LOGS=-")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start rabbitmq-server: %v", err)
	}
	r.cmd = cmd
	r.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := amqp091.Dial(r.url())
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-r.exited:
			b, _ := os.ReadFile(filepath.Join(r.dir, "server.log"))
			r.t.Fatalf("rabbitmq-server exited: %s", tail(b))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(r.dir, "server.log"))
			r.t.Fatalf("rabbitmq-server not ready within 60s: %v\n%s", err, tail(b))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop stops the server (SIGTERM to its process group, as an orderly
// broker shutdown) and waits for it.
func (r *rabbit) stop() {
	if r.cmd == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
}

// restart stops the server and starts it again with the same data.
func (r *rabbit) restart() {
	r.stop()
	r.start()
}

func tail(b []byte) []byte {
	if len(b) > 3000 {
		return b[len(b)-3000:]
	}
	return b
}
