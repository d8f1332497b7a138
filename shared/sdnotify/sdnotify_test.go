package sdnotify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantEnabled  bool
		wantWatchdog time.Duration
		wantErr      string
	}{
		{name: "not under systemd", env: nil},
		{name: "socket only", env: map[string]string{EnvSocket: "/run/systemd/notify"}, wantEnabled: true},
		{name: "abstract socket", env: map[string]string{EnvSocket: "@/org/freedesktop/systemd1/notify"}, wantEnabled: true},
		{name: "watchdog for us", env: map[string]string{EnvSocket: "/run/n", EnvWatchdogUsec: "30000000", EnvWatchdogPID: "42"},
			wantEnabled: true, wantWatchdog: 30 * time.Second},
		{name: "watchdog without pid", env: map[string]string{EnvSocket: "/run/n", EnvWatchdogUsec: "500000"},
			wantEnabled: true, wantWatchdog: 500 * time.Millisecond},
		{name: "watchdog for another process", env: map[string]string{EnvSocket: "/run/n", EnvWatchdogUsec: "30000000", EnvWatchdogPID: "7"},
			wantEnabled: true},
		{name: "watchdog without socket", env: map[string]string{EnvWatchdogUsec: "30000000"}},
		{name: "relative socket", env: map[string]string{EnvSocket: "notify"}, wantErr: `NOTIFY_SOCKET="notify": want an absolute path`},
		{name: "bad usec", env: map[string]string{EnvSocket: "/run/n", EnvWatchdogUsec: "30s"}, wantErr: `WATCHDOG_USEC="30s": want a positive number`},
		{name: "zero usec", env: map[string]string{EnvSocket: "/run/n", EnvWatchdogUsec: "0"}, wantErr: `WATCHDOG_USEC="0"`},
		{name: "bad pid", env: map[string]string{EnvSocket: "/run/n", EnvWatchdogUsec: "1", EnvWatchdogPID: "me"}, wantErr: `WATCHDOG_PID="me": want a process id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			n, err := fromLookup(lookup, 42)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Enabled(); got != tt.wantEnabled {
				t.Errorf("Enabled = %v, want %v", got, tt.wantEnabled)
			}
			if got := n.WatchdogTimeout(); got != tt.wantWatchdog {
				t.Errorf("WatchdogTimeout = %v, want %v", got, tt.wantWatchdog)
			}
		})
	}
}

// listen makes the socket systemd would listen on and returns the
// notifications it receives.
func listen(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	out := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			out <- string(buf[:n])
		}
	}()
	return path, out
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no notification received")
		return ""
	}
}

func TestServeHealthy(t *testing.T) {
	path, got := listen(t)
	n := &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}, watchdog: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func() error { return nil })
	}()
	if s := next(t, got); s != "READY=1" {
		t.Fatalf("first notification = %q, want READY=1", s)
	}
	for i := 0; i < 3; i++ {
		if s := next(t, got); s != "WATCHDOG=1" {
			t.Fatalf("notification %d = %q, want WATCHDOG=1", i+2, s)
		}
	}
	cancel()
	<-done
	// watchdog pings sent before the cancel may still be queued
	for s := next(t, got); s != "STOPPING=1"; s = next(t, got) {
		if s != "WATCHDOG=1" {
			t.Fatalf("notification after cancel = %q, want WATCHDOG=1 or STOPPING=1", s)
		}
	}
}

func TestServeUnhealthyStarvesTheWatchdog(t *testing.T) {
	path, got := listen(t)
	n := &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}, watchdog: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	checks := make(chan struct{}, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func() error {
			checks <- struct{}{}
			return errors.New("buffer: database not open")
		})
	}()
	for i := 0; i < 5; i++ {
		<-checks
	}
	cancel()
	<-done
	if s := next(t, got); s != "READY=1" {
		t.Fatalf("first notification = %q, want READY=1", s)
	}
	if s := next(t, got); s != "STOPPING=1" {
		t.Fatalf("second notification = %q, want STOPPING=1 (no WATCHDOG=1 while unhealthy)", s)
	}
}

func TestDisabledSendsNothing(t *testing.T) {
	var n *Notifier
	if err := n.Notify("READY=1"); err != nil {
		t.Errorf("Notify on a nil notifier = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func() error { t.Error("health checked without systemd"); return nil })
}

func TestNotifyNoListener(t *testing.T) {
	n := &Notifier{addr: &net.UnixAddr{Name: filepath.Join(t.TempDir(), "gone.sock"), Net: "unixgram"}}
	err := n.Notify("READY=1")
	if err == nil || !strings.Contains(err.Error(), "notify systemd at") {
		t.Fatalf("Notify to a missing socket = %v, want an error naming the socket", err)
	}
}

func TestPatient(t *testing.T) {
	release := make(chan struct{})
	calls := make(chan struct{}, 10)
	result := errors.New("buffer: closed")
	check := func() error {
		calls <- struct{}{}
		<-release
		return result
	}
	clock := time.Unix(0, 0)
	p := NewPatient(check, time.Minute)
	p.now = func() time.Time { return clock }

	if err := p.Health(); err != nil {
		t.Fatalf("first call = %v, want nil (no result yet)", err)
	}
	<-calls
	clock = clock.Add(50 * time.Second) // a compaction: still patient
	if err := p.Health(); err != nil {
		t.Fatalf("while the check blocks for 50s = %v, want nil", err)
	}
	clock = clock.Add(20 * time.Second) // 70s: hung
	if err := p.Health(); err == nil || !strings.Contains(err.Error(), "running for 1m10s") {
		t.Fatalf("after 70s = %v, want an error saying how long", err)
	}
	release <- struct{}{}
	// the finished call's result is reported from the next call on
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := p.Health()
		if errors.Is(err, result) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health = %v, want the check's error once it returned", err)
		}
		select {
		case <-calls: // a new check started: let it finish
			release <- struct{}{}
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(release)
	p.Wait()
}
