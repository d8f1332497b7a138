package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/sdnotify"
)

// TestSystemdNotifications runs the hub as systemd would run it from the
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	args := []string{"--http", "off", "--nats", "off", "--leaf", "off", "--data", filepath.Join(dir, "data")}
	go func() { errc <- run(ctx, args, io.Discard, io.Discard) }()

	read := func() string {
		t.Helper()
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
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
