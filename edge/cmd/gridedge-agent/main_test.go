package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/sdnotify"
)

// TestSystemdNotifications runs the agent as systemd would run it from the
// packaged unit (Type=notify, WatchdogSec=) and checks what it tells systemd.
func TestSystemdNotifications(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv(sdnotify.EnvSocket, sock)
	t.Setenv(sdnotify.EnvWatchdogUsec, "100000")
	t.Setenv(sdnotify.EnvWatchdogPID, "")
	settings := `{"modbusMaps": {"M": [{"name": "v", "type": "holding", "address": 0, "datatype": "16uint"}]},
	  "modbusSlaves": [{"ip": "127.0.0.1", "port": 1, "slaveId": 1, "map": "M"}], "period": 1}`
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "edge:\n  id: sdtest\ndataDir: " + filepath.Join(dir, "data") + "\nnats:\n  listen: \"off\"\nsettingsFile: settings.json\n"
	if err := os.WriteFile(filepath.Join(dir, "agent.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--config", filepath.Join(dir, "agent.yaml")}, io.Discard, io.Discard)
	}()

	read := func() string {
		t.Helper()
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for a notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := read(); got != "READY=1" {
		t.Fatalf("first notification = %q, want READY=1", got)
	}
	if got := read(); got != "WATCHDOG=1" {
		t.Fatalf("second notification = %q, want WATCHDOG=1", got)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run = %v, want nil after cancel", err)
	}
	for got := read(); got != "STOPPING=1"; got = read() {
		if got != "WATCHDOG=1" {
			t.Fatalf("notification after cancel = %q, want STOPPING=1", got)
		}
	}
}
