package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// needInterop skips with why, or fails under GRIDEDGE_REQUIRE_INTEROP=1.
func needInterop(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
		t.Fatalf("GRIDEDGE_REQUIRE_INTEROP=1: %s", why)
	}
	t.Skip(why)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRabbitMQ runs Debian's rabbitmq-server (no plugins) in a temporary
// directory on free ports and returns its AMQP port; it is stopped at the
// end of the test.
func startRabbitMQ(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat(rabbitServer); err != nil {
		needInterop(t, "rabbitmq-server is not installed (apt-get install rabbitmq-server)")
	}
	dir := t.TempDir()
	port, dist, epmd := freePort(t), freePort(t), freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n", port)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rabbitServer)
	cmd.Env = append(os.Environ(), "HOME="+dir,
		fmt.Sprintf("RABBITMQ_NODENAME=gridedge-wx-%d@localhost", port),
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", port), fmt.Sprintf("RABBITMQ_DIST_PORT=%d", dist),
		fmt.Sprintf("ERL_EPMD_PORT=%d", epmd),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"), "RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"), "RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_GENERATED_CONFIG_DIR="+filepath.Join(dir, "gen"))
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		needInterop(t, fmt.Sprintf("start rabbitmq-server: %v", err))
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		// Erlang starts epmd as a daemon outside the server's process
		// group: the test's own port keeps it apart, and it is stopped here
		_ = exec.Command("epmd", "-port", strconv.Itoa(epmd), "-kill").Run()
	})
	url := fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := amqp.Dial(url)
		if err == nil {
			conn.Close()
			return port
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			needInterop(t, fmt.Sprintf("rabbitmq-server exited: %s", b))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			t.Fatalf("rabbitmq-server not ready after 60s: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAMQPPublication: every refresh of a site is published to the
// configured exchange with the seed's topics ('#' replaced by the site's
// topic) and the seed's messages as JSON, through a real RabbitMQ.
func TestAMQPPublication(t *testing.T) {
	port := startRabbitMQ(t)
	f := newFakeProviders(t)
	cfg := testConfig(f, ProviderWeatherbit)
	cfg.Sites[0].Topic = "valencia"
	cfg.AMQP = &AMQPConfig{Host: "127.0.0.1", Port: port, Exchange: "xflex.weather", WeatherTopic: "gridflex.weather.#", ForecastTopic: "gridflex.weather.forecast.#"}
	cfg.Defaults()
	svc, err := New(Options{Config: cfg, Store: openStore(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	// a consumer bound to the exchange, declared first so that nothing is
	// routed to no queue
	conn, err := amqp.Dial(fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("xflex.weather", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "gridflex.weather.#", "xflex.weather", false, nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	if err := svc.EnsureLayer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.RefreshCurrent(ctx, cfg.Sites[0]); err != nil {
		t.Fatal(err)
	}
	if err := svc.RefreshForecast(ctx, cfg.Sites[0]); err != nil {
		t.Fatal(err)
	}
	got := map[string]amqp.Delivery{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case m := <-msgs:
			got[m.RoutingKey] = m
		case <-timeout:
			t.Fatalf("after 10s got %d messages, want 2", len(got))
		}
	}
	cur, ok := got["gridflex.weather.valencia"]
	if !ok || cur.ContentType != "application/json" || cur.DeliveryMode != amqp.Persistent {
		t.Fatalf("current message: %+v", cur)
	}
	sameJSON(t, "current message", json.RawMessage(cur.Body), seedCurrent)
	fc, ok := got["gridflex.weather.forecast.valencia"]
	if !ok {
		t.Fatalf("no forecast message; got keys %v", got)
	}
	var hours []json.RawMessage
	if err := json.Unmarshal(fc.Body, &hours); err != nil || len(hours) != 48 {
		t.Fatalf("forecast message: %d hours, %v", len(hours), err)
	}
	sameJSON(t, "forecast message, first hour", hours[0], seedForecastHour)
}

// TestAMQPBrokerDown: with the broker unreachable the site's document is
// still written and the refresh reports the publication failure.
func TestAMQPBrokerDown(t *testing.T) {
	f := newFakeProviders(t)
	st := openStore(t)
	cfg := testConfig(f, ProviderWeatherbit)
	cfg.AMQP = &AMQPConfig{Host: "127.0.0.1", Port: freePort(t), Exchange: "x"}
	cfg.Defaults()
	svc, err := New(Options{Config: cfg, Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	if err := svc.EnsureLayer(ctx); err != nil {
		t.Fatal(err)
	}
	err = svc.RefreshCurrent(ctx, cfg.Sites[0])
	if err == nil || !strings.Contains(err.Error(), `publish to "weather.VLC"`) || !strings.Contains(err.Error(), "connect to AMQP") {
		t.Errorf("got %v, want a publication error naming the topic and the connection", err)
	}
	if _, err := st.Get(ctx, "weather", "current", "VLC"); err != nil {
		t.Errorf("the document was not written: %v", err)
	}
}
