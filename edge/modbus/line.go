package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// rawLine is a byte stream that carries serial-line frames: a serial port
// (or pty), or a TCP connection to a serial gateway.
type rawLine interface {
	// readWait reads into p, waiting at most d (0: only what is there) for
	// the first byte; it returns 0, nil when nothing came.
	readWait(p []byte, d time.Duration) (int, error)
	// Write writes p.
	Write(p []byte) (int, error)
	// discardInput drops input received but not read yet.
	discardInput() error
	// Close closes the line; a blocked readWait returns.
	Close() error
}

// errLineBroken marks an I/O error after which the line must be closed and
// reopened (a USB adapter unplugged, a gateway connection reset).
var errLineBroken = errors.New("line broken")

// pollSlice bounds a single blocking read so that the context is checked
// regularly.
const pollSlice = 50 * time.Millisecond

// silenceFloor is the shortest silence taken as the end of a frame or as
// an interrupted frame. The specification's t1.5 and t3.5 are below a
// millisecond at high rates: a Linux tty cannot time single characters, and
// USB adapters deliver received bytes in bursts up to 16 ms apart (the FTDI
// latency timer). The CRC or LRC, not the timer, rejects a frame whose parts
// do not belong together; and frames whose function code tells their length
// end as soon as their last byte is in, without waiting for any silence.
const silenceFloor = 20 * time.Millisecond

// line is a rawLine with what the framing needs: a read buffer and the
// time the line is next free.
type line struct {
	raw rawLine
	// t35 is the inter-frame silence (0 over TCP).
	t35 time.Duration
	// charTime is the time of one character (0 over TCP).
	charTime time.Duration
	// silence is the shortest silence taken as a frame's end: silenceFloor,
	// shorter in tests.
	silence time.Duration
	// idleAt is the earliest time the next frame may be sent.
	idleAt time.Time
	// buf holds bytes read and not consumed yet.
	buf []byte
	rd  [512]byte
}

func newLine(raw rawLine, cfg serialConfig, timed bool) *line {
	l := &line{raw: raw, buf: make([]byte, 0, 2*MaxASCIIFrame), silence: silenceFloor}
	if timed {
		l.t35 = InterFrameDelay(cfg.baud, cfg.bitsPerChar())
		l.charTime = CharTime(cfg.baud, cfg.bitsPerChar())
	}
	return l
}

// fill appends to l.buf what arrives within wait (bounded by deadline,
// when not zero) and reports whether anything came. It returns a wrapped
// errLineBroken for I/O errors and the context's error when ctx ends.
func (l *line) fill(ctx context.Context, wait time.Duration, deadline time.Time) (bool, error) {
	end := time.Now().Add(wait)
	if !deadline.IsZero() && deadline.Before(end) {
		end = deadline
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		d := min(time.Until(end), pollSlice)
		if d < 0 {
			d = 0
		}
		n, err := l.raw.readWait(l.rd[:], d)
		if n > 0 {
			l.buf = append(l.buf, l.rd[:n]...)
			l.idleAt = time.Now().Add(l.t35)
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read: %w: %w", errLineBroken, err)
		}
		if !time.Now().Before(end) {
			return false, nil
		}
	}
}

// consume drops the first n buffered bytes.
func (l *line) consume(n int) {
	l.buf = l.buf[:copy(l.buf, l.buf[n:])]
}

// waitIdle sleeps until the line may carry the next frame.
func (l *line) waitIdle(ctx context.Context) error {
	d := time.Until(l.idleAt)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send writes frame and records when the line is free again.
func (l *line) send(frame []byte) error {
	if _, err := l.raw.Write(frame); err != nil {
		return fmt.Errorf("write: %w: %w", errLineBroken, err)
	}
	l.idleAt = time.Now().Add(time.Duration(len(frame))*l.charTime + l.t35)
	return nil
}

// discard drops buffered and pending input.
func (l *line) discard() error {
	l.buf = l.buf[:0]
	if err := l.raw.discardInput(); err != nil {
		return fmt.Errorf("discard input: %w: %w", errLineBroken, err)
	}
	return nil
}

// serialLine adapts a go.bug.st/serial port.
type serialLine struct {
	port    serial.Port
	timeout time.Duration // current read timeout; -2 unset
}

func (s *serialLine) readWait(p []byte, d time.Duration) (int, error) {
	if d < 0 {
		d = 0
	}
	if d != s.timeout {
		if err := s.port.SetReadTimeout(d); err != nil {
			return 0, err
		}
		s.timeout = d
	}
	return s.port.Read(p)
}

func (s *serialLine) Write(p []byte) (int, error) {
	n, err := s.port.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}
func (s *serialLine) discardInput() error { return s.port.ResetInputBuffer() }
func (s *serialLine) Close() error        { return s.port.Close() }

// openSerial opens a serial port (or pty) in raw mode. It is a variable so
// tests can simulate unplugged adapters.
var openSerial = func(path string, cfg serialConfig) (rawLine, error) {
	mode := &serial.Mode{BaudRate: cfg.baud, DataBits: cfg.dataBits, StopBits: serial.OneStopBit}
	if cfg.stopBits == 2 {
		mode.StopBits = serial.TwoStopBits
	}
	switch cfg.parity {
	case parityEven:
		mode.Parity = serial.EvenParity
	case parityOdd:
		mode.Parity = serial.OddParity
	default:
		mode.Parity = serial.NoParity
	}
	p, err := serial.Open(path, mode)
	if err != nil {
		var pe *serial.PortError
		if errors.As(err, &pe) && pe.Code() == serial.PortNotFound {
			err = fmt.Errorf("%w: %w", os.ErrNotExist, err)
		}
		return nil, fmt.Errorf("open serial port %s (%s): %w", path, cfg, err)
	}
	return &serialLine{port: p, timeout: -2}, nil
}

// connLine adapts a TCP connection to a serial gateway.
type connLine struct{ conn net.Conn }

func (c connLine) readWait(p []byte, d time.Duration) (int, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(max(d, time.Microsecond))); err != nil {
		return 0, err
	}
	n, err := c.conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return n, err
}

func (c connLine) Write(p []byte) (int, error) {
	if err := c.conn.SetWriteDeadline(time.Now().Add(serverWriteTimeout)); err != nil {
		return 0, err
	}
	return c.conn.Write(p)
}

// discardInput reads whatever already arrived.
func (c connLine) discardInput() error {
	var b [256]byte
	for {
		n, err := c.readWait(b[:], time.Millisecond)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func (c connLine) Close() error { return c.conn.Close() }

// isClosedErr reports errors that mean the line was closed on purpose or by
// the peer, rather than failing.
func isClosedErr(err error) bool {
	var pe *serial.PortError
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		(errors.As(err, &pe) && pe.Code() == serial.PortClosed)
}
