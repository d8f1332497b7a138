package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// lineHolder gives one exchange at a time exclusive use of a line, opening
// (or reopening) it first when needed.
type lineHolder interface {
	// with runs fn with the line. An error of fn that wraps errLineBroken
	// closes the line; the next call reopens it.
	with(ctx context.Context, fn func(*line) error) error
	close() error
}

// Reopen backoff for a serial port that failed or vanished.
const (
	reopenMinBackoff = 100 * time.Millisecond
	reopenMaxBackoff = 10 * time.Second
)

// serialBuses holds the serial ports open in this process, keyed by device
// path. Slaves on one RS-485 bus share its port, so every Client created for
// the same path shares one serialBus, whose lock lets one request at a time
// on the line; the last Client to close closes the port.
var serialBuses = struct {
	sync.Mutex
	m map[string]*serialBus
}{m: make(map[string]*serialBus)}

// serialBus is one shared serial port.
type serialBus struct {
	path string
	cfg  serialConfig
	log  *slog.Logger
	refs int // guarded by serialBuses

	// sem is the bus lock; a channel so that waiting honours contexts.
	sem      chan struct{}
	l        *line // nil while closed
	lost     bool  // the port failed and the failure was logged
	failures int   // reopen attempts failed in a row
	retryAt  time.Time
	lastErr  error
}

var _ lineHolder = (*serialBus)(nil)

// acquireSerialBus returns the bus for path, creating it, and takes a
// reference. A bus already open with other line settings is an error.
func acquireSerialBus(path string, cfg serialConfig, log *slog.Logger) (*serialBus, error) {
	serialBuses.Lock()
	defer serialBuses.Unlock()
	if b := serialBuses.m[path]; b != nil {
		if !sameLine(b.cfg, cfg) {
			return nil, fmt.Errorf("serial port %s is already in use with %s, not %s: slaves on one bus must share its settings", path, b.cfg, cfg)
		}
		b.refs++
		return b, nil
	}
	b := &serialBus{path: path, cfg: cfg, log: log.With("port", path), refs: 1, sem: make(chan struct{}, 1)}
	serialBuses.m[path] = b
	return b, nil
}

// sameLine reports whether two configurations drive the line alike.
func sameLine(a, b serialConfig) bool {
	return a.baud == b.baud && a.dataBits == b.dataBits && a.parity == b.parity && a.stopBits == b.stopBits
}

// close drops a reference; the last one closes the port.
func (b *serialBus) close() error {
	serialBuses.Lock()
	b.refs--
	last := b.refs == 0
	if last {
		delete(serialBuses.m, b.path)
	}
	serialBuses.Unlock()
	if !last {
		return nil
	}
	b.sem <- struct{}{}
	defer func() { <-b.sem }()
	if b.l == nil {
		return nil
	}
	err := b.l.raw.Close()
	b.l = nil
	return err
}

func (b *serialBus) with(ctx context.Context, fn func(*line) error) error {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx, fmt.Errorf("waiting for serial port %s: %w", b.path, ctx.Err()))
	}
	defer func() { <-b.sem }()
	if b.l == nil {
		if err := b.open(); err != nil {
			return err
		}
	}
	err := fn(b.l)
	if errors.Is(err, errLineBroken) {
		_ = b.l.raw.Close()
		b.l = nil
		b.retryAt = time.Time{} // first reopen at the next request
		if !b.lost {
			b.lost = true
			b.log.Warn("modbus serial port lost, reopening on the next request", "err", err)
		}
		return fmt.Errorf("serial port %s: %w: %w", b.path, ErrPortUnavailable, err)
	}
	return err
}

// open opens the port unless a recent attempt failed, backing off
// exponentially between attempts. The first failure is logged as a
// warning, the next ones at debug level, the recovery as info.
func (b *serialBus) open() error {
	now := time.Now()
	if now.Before(b.retryAt) {
		return fmt.Errorf("serial port %s: %w: next attempt in %v, last error: %w", b.path, ErrPortUnavailable, b.retryAt.Sub(now).Round(time.Millisecond), b.lastErr)
	}
	raw, err := openSerial(b.path, b.cfg)
	if err != nil {
		b.failures++
		backoff := min(reopenMinBackoff<<min(b.failures-1, 20), reopenMaxBackoff)
		b.retryAt = now.Add(backoff)
		b.lastErr = err
		if !b.lost {
			b.lost = true
			b.log.Warn("modbus serial port unavailable, retrying with backoff", "err", err)
		} else {
			b.log.Debug("modbus serial port still unavailable", "err", err, "retry_in", backoff)
		}
		return fmt.Errorf("%w: %w", ErrPortUnavailable, err)
	}
	if b.lost {
		b.log.Info("modbus serial port reopened", "settings", b.cfg.String())
	} else {
		b.log.Debug("modbus serial port opened", "settings", b.cfg.String())
	}
	b.lost, b.failures, b.lastErr = false, 0, nil
	b.l = newLine(raw, b.cfg, true)
	return nil
}

// gatewayConn is a lazily dialled TCP connection to a serial gateway
// (RTU over TCP).
type gatewayConn struct {
	addr        string
	dialTimeout time.Duration
	log         *slog.Logger
	l           *line
}

var _ lineHolder = (*gatewayConn)(nil)

func (g *gatewayConn) with(ctx context.Context, fn func(*line) error) error {
	for attempt := 0; ; attempt++ {
		reused := g.l != nil
		if !reused {
			d := net.Dialer{Timeout: g.dialTimeout}
			conn, err := d.DialContext(ctx, "tcp", g.addr)
			if err != nil {
				if ctx.Err() != nil {
					return ctxError(ctx, fmt.Errorf("dial %s: %w", g.addr, err))
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return fmt.Errorf("dial %s: %w: %w", g.addr, ErrTimeout, err)
				}
				return fmt.Errorf("dial %s: %w", g.addr, err)
			}
			g.log.Debug("modbus connected", "addr", g.addr, "local", conn.LocalAddr().String())
			g.l = newLine(connLine{conn}, serialConfig{}, false)
		}
		err := fn(g.l)
		if err == nil {
			return nil
		}
		// Without transaction ids a late reply would pass for the answer to
		// the next request: never reuse the connection after an error.
		_ = g.close()
		if reused && attempt == 0 && errors.Is(err, errStale) && ctx.Err() == nil {
			g.log.Debug("modbus gateway connection closed by peer, redialling", "addr", g.addr, "err", err)
			continue
		}
		return err
	}
}

func (g *gatewayConn) close() error {
	if g.l == nil {
		return nil
	}
	err := g.l.raw.Close()
	g.l = nil
	return err
}

// staleError reports whether err, from a request on a reused connection
// that got no byte back, shows the peer had closed it before.
func staleError(err error) bool {
	return errors.Is(err, errLineBroken) && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || isClosedErr(err))
}
