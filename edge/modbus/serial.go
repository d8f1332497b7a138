package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// lineTransport carries RTU or ASCII frames over a serial port (shared by
// every Client of that port) or a TCP connection to a serial gateway.
type lineTransport struct {
	name        string // port path or gateway address, for errors
	ascii       bool
	holder      lineHolder
	turnaround  time.Duration
	charTimeout time.Duration
	log         *slog.Logger

	wbuf []byte
	rbuf [MaxRTUFrame]byte
}

var _ transport = (*lineTransport)(nil)

// isBroadcastWrite reports whether fn may be sent to unit 0 on a serial
// line: the write functions (Modbus over Serial Line V1.02, 2.1).
func isBroadcastWrite(fn byte) bool {
	switch fn {
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		return true
	}
	return false
}

// roundTrip sends req and reads the response. For unit 0 (broadcast) it
// sends a write request, keeps the line for the turnaround delay so slaves
// can process it, and returns an empty PDU: nobody answers a broadcast.
func (t *lineTransport) roundTrip(ctx context.Context, unit byte, req PDU, timeout time.Duration) (PDU, error) {
	broadcast := unit == 0
	if broadcast && !isBroadcastWrite(req.Function) {
		return PDU{}, fmt.Errorf("unit 0 is the broadcast address on a serial line, and %s cannot be broadcast: %w", funcName(req.Function), ErrInvalidRequest)
	}
	var resp PDU
	err := t.holder.with(ctx, func(l *line) error {
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := l.waitIdle(ctx); err != nil {
			return err
		}
		// Stale bytes (a late reply to an earlier request, noise) must not
		// pass for the answer.
		if err := l.discard(); err != nil {
			return err
		}
		if t.ascii {
			t.wbuf = appendASCIIFrame(t.wbuf[:0], unit, req)
		} else {
			t.wbuf = appendRTUFrame(t.wbuf[:0], unit, req)
		}
		if err := l.send(t.wbuf); err != nil {
			if staleError(err) {
				err = fmt.Errorf("%w: %w", errStale, err)
			}
			return err
		}
		if broadcast {
			l.idleAt = l.idleAt.Add(t.turnaround)
			return l.waitIdle(ctx)
		}
		var err error
		resp, err = t.readResponse(ctx, l, unit, deadline)
		if err != nil && len(l.buf) == 0 && staleError(err) {
			err = fmt.Errorf("%w: %w", errStale, err)
		}
		l.buf = l.buf[:0]
		return err
	})
	if err != nil {
		return PDU{}, t.classify(ctx, err)
	}
	return resp, nil
}

// readResponse reads and checks the response frame and copies its PDU to
// t.rbuf, which stays valid after the line is released.
func (t *lineTransport) readResponse(ctx context.Context, l *line, unit byte, deadline time.Time) (PDU, error) {
	var (
		got  byte
		p    PDU
		err  error
		abuf [MaxRTUFrame]byte
	)
	if t.ascii {
		var frame []byte
		if frame, err = l.readASCIIFrame(ctx, deadline, 0, t.charTimeout); err == nil {
			got, p, err = parseASCIIFrame(frame, &abuf)
		}
	} else {
		var frame []byte
		if frame, err = l.readRTUResponse(ctx, deadline); err == nil {
			got, p, err = parseRTUFrame(frame)
		}
	}
	if err != nil {
		if errors.Is(err, errNoAnswer) && len(l.buf) == 0 {
			return PDU{}, err
		}
		return PDU{}, fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	}
	if got != unit {
		return PDU{}, fmt.Errorf("response from slave %d, want %d: %w", got, unit, ErrInvalidResponse)
	}
	n := copy(t.rbuf[:], p.Data)
	return PDU{Function: p.Function, Data: t.rbuf[:n]}, nil
}

// classify maps line errors to the package's errors.
func (t *lineTransport) classify(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctxError(ctx, fmt.Errorf("%s: %w", t.name, err))
	case errors.Is(err, errNoAnswer):
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return fmt.Errorf("%s: %w: %w", t.name, ErrTimeout, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s: %w", t.name, ErrTimeout)
	}
	return fmt.Errorf("%s: %w", t.name, err)
}

func (t *lineTransport) close() error { return t.holder.close() }
