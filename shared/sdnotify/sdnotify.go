// Package sdnotify tells systemd about a service's state, as sd_notify(3)
// does, in pure Go: READY=1 once the daemon has started, WATCHDOG=1 while it
// is healthy, STOPPING=1 when it shuts down. The messages go as datagrams to
// the unix socket systemd names in $NOTIFY_SOCKET (units with Type=notify);
// the watchdog period comes from $WATCHDOG_USEC (units with WatchdogSec=).
// Outside such a unit every call does nothing, so daemons call it always.
package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment variables systemd sets for the service's main process.
const (
	// EnvSocket names the socket notifications go to ("@name" is abstract).
	EnvSocket = "NOTIFY_SOCKET"
	// EnvWatchdogUsec is the watchdog timeout in microseconds.
	EnvWatchdogUsec = "WATCHDOG_USEC"
	// EnvWatchdogPID is the process the watchdog applies to.
	EnvWatchdogPID = "WATCHDOG_PID"
)

// Notifier sends notifications to systemd. The zero value and nil are a
// notifier that sends nothing (not run by systemd).
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration
}

// FromEnv returns the notifier systemd asked for through the environment:
// one that sends nothing when $NOTIFY_SOCKET is unset, and no watchdog when
// $WATCHDOG_USEC is unset or $WATCHDOG_PID names another process. A malformed
// value is an error naming the variable.
func FromEnv() (*Notifier, error) {
	return fromLookup(os.LookupEnv, os.Getpid())
}

func fromLookup(lookup func(string) (string, bool), pid int) (*Notifier, error) {
	n := &Notifier{}
	if sock, ok := lookup(EnvSocket); ok && sock != "" {
		switch {
		case strings.HasPrefix(sock, "@"):
			// abstract namespace: Go spells the leading NUL as '@' too
		case strings.HasPrefix(sock, "/"):
		default:
			return nil, fmt.Errorf("%s=%q: want an absolute path or @abstract name", EnvSocket, sock)
		}
		n.addr = &net.UnixAddr{Name: sock, Net: "unixgram"}
	}
	usec, ok := lookup(EnvWatchdogUsec)
	if !ok || usec == "" {
		return n, nil
	}
	if p, ok := lookup(EnvWatchdogPID); ok && p != "" {
		want, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: want a process id", EnvWatchdogPID, p)
		}
		if want != pid {
			return n, nil // the watchdog is for another process (e.g. a parent shell)
		}
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us <= 0 {
		return nil, fmt.Errorf("%s=%q: want a positive number of microseconds", EnvWatchdogUsec, usec)
	}
	n.watchdog = time.Duration(us) * time.Microsecond
	return n, nil
}

// Enabled reports whether notifications are sent anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// WatchdogTimeout is the time systemd waits for a WATCHDOG=1 before it
// considers the service hung; 0 when no watchdog is configured.
func (n *Notifier) WatchdogTimeout() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// Notify sends one notification, newline-separated VARIABLE=value
// assignments (see sd_notify(3)). It does nothing when not Enabled.
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd at %s: send %q: %w", n.addr.Name, state, err)
	}
	return nil
}

// Serve runs the notifications of a daemon that has just started, until ctx
// is done: READY=1 at once, then WATCHDOG=1 at half the watchdog timeout
// each time healthy returns nil, and STOPPING=1 when ctx is done. A failed
// health check sends nothing, so systemd restarts a daemon that stays
// unhealthy for the whole timeout; it is logged once when it starts failing
// and once when it recovers. Serve returns when ctx is done.
func (n *Notifier) Serve(ctx context.Context, log *slog.Logger, healthy func() error) {
	if !n.Enabled() {
		<-ctx.Done()
		return
	}
	if err := n.Notify("READY=1"); err != nil {
		log.Warn("systemd readiness not sent", "err", err)
	}
	var tick <-chan time.Time
	if n.watchdog > 0 {
		t := time.NewTicker(n.watchdog / 2)
		defer t.Stop()
		tick = t.C
	}
	var failing error
	for {
		select {
		case <-ctx.Done():
			if err := n.Notify("STOPPING=1"); err != nil {
				log.Warn("systemd stop notification not sent", "err", err)
			}
			return
		case <-tick:
			err := healthy()
			switch {
			case err != nil && failing == nil:
				log.Error("health check failed: systemd watchdog not fed; it restarts the service if this lasts", "err", err, "timeout", n.watchdog)
			case err == nil && failing != nil:
				log.Info("health check passes again: systemd watchdog fed")
			}
			failing = err
			if err != nil {
				continue
			}
			if err := n.Notify("WATCHDOG=1"); err != nil {
				log.Warn("systemd watchdog not fed", "err", err)
			}
		}
	}
}

// Patient runs a health check in the background for Serve, for a check
// that may block for a while for a good reason (the agent's buffer answers
// no status while it compacts its file): while a call is still running, the
// result of the last finished one stands, and only a call running longer
// than the patience makes Health fail (the daemon is hung).
type Patient struct {
	check    func() error
	patience time.Duration
	now      func() time.Time
	wg       sync.WaitGroup

	mu      sync.Mutex
	running bool
	started time.Time
	last    error
}

// NewPatient returns a Patient running check with the given patience.
func NewPatient(check func() error, patience time.Duration) *Patient {
	return &Patient{check: check, patience: patience, now: time.Now}
}

// Health reports the last finished check's result, or an error when the
// running one has taken longer than the patience, and starts the check
// again once the previous call returned. Pass it to Serve.
func (p *Patient) Health() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		if d := p.now().Sub(p.started); d > p.patience {
			return fmt.Errorf("health check running for %v, more than %v", d.Round(time.Second), p.patience)
		}
		return p.last
	}
	p.running = true
	p.started = p.now()
	p.wg.Go(func() {
		err := p.check()
		p.mu.Lock()
		p.running, p.last = false, err
		p.mu.Unlock()
	})
	return p.last
}

// Wait waits for a running check to return: call it after Serve and
// before closing what the check looks at.
func (p *Patient) Wait() { p.wg.Wait() }
