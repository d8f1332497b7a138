package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// serveSerial serves RTU or ASCII on the serial port (or pty) of ep until
// ctx is done. A port that cannot be opened at first is an error; one that
// fails later is reopened with backoff, the first failure logged as a
// warning.
func (s *Server) serveSerial(ctx context.Context, ep endpoint) error {
	log := s.logger().With("port", ep.path, "framing", ep.scheme.String())
	ascii := ep.scheme == schemeASCII
	var failures int
	served := false
	for {
		raw, err := openSerial(ep.path, ep.serial)
		if err != nil && !served {
			return fmt.Errorf("modbus server: %w", err)
		}
		if err == nil {
			served = true
			if failures > 0 {
				log.Info("modbus serial port reopened")
			}
			failures = 0
			units := make([]int, len(s.Units))
			for i, u := range s.Units {
				units[i] = int(u)
			}
			log.Info("modbus server listening", "settings", ep.serial.String(), "units", units)
			// Closing the port ends a blocked read at once.
			stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
			err = s.serveLine(ctx, newLine(raw, ep.serial, true), ascii, ep.serial.charTimeout, log)
			stop()
			_ = raw.Close()
			if ctx.Err() != nil {
				return nil
			}
		}
		if failures == 0 {
			log.Warn("modbus serial port unavailable, retrying with backoff", "err", err)
		} else {
			log.Debug("modbus serial port still unavailable", "err", err)
		}
		backoff := min(reopenMinBackoff<<min(failures, 20), reopenMaxBackoff)
		failures++
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// serveLine answers the requests arriving on l until ctx ends or l fails.
// charTimeout is the ASCII inter-character timeout.
func (s *Server) serveLine(ctx context.Context, l *line, ascii bool, charTimeout time.Duration, log *slog.Logger) error {
	var abuf [MaxRTUFrame]byte
	wbuf := make([]byte, 0, MaxASCIIFrame)
	for {
		var (
			frame []byte
			unit  byte
			req   PDU
			err   error
		)
		if ascii {
			frame, err = l.readASCIIFrame(ctx, time.Time{}, s.IdleTimeout, charTimeout)
		} else {
			frame, err = l.readRTURequest(ctx, s.IdleTimeout, log)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errNoAnswer) {
				return fmt.Errorf("idle for %v", s.IdleTimeout)
			}
			return err
		}
		n := len(frame)
		if ascii {
			unit, req, err = parseASCIIFrame(frame, &abuf)
		} else {
			unit, req, err = parseRTUFrame(frame)
		}
		if err != nil {
			log.Debug("modbus dropping malformed frame", "err", err)
			l.consume(n)
			continue
		}
		resp, ok := s.lineRequest(ctx, unit, req, log)
		l.consume(n) // req aliased the buffer until here
		if !ok {
			continue
		}
		if ascii {
			wbuf = appendASCIIFrame(wbuf[:0], unit, resp)
		} else {
			wbuf = appendRTUFrame(wbuf[:0], unit, resp)
		}
		// The response follows the request after at least t3.5.
		if err := l.waitIdle(ctx); err != nil {
			return nil
		}
		if err := l.send(wbuf); err != nil {
			return err
		}
	}
}

// lineRequest applies the serial line's addressing rules and returns the
// response to send, if any.
func (s *Server) lineRequest(ctx context.Context, unit byte, req PDU, log *slog.Logger) (PDU, bool) {
	if unit == 0 {
		if !isBroadcastWrite(req.Function) {
			log.Debug("modbus ignoring broadcast of a function that cannot be broadcast", "function", req.Function)
			return PDU{}, false
		}
		units := s.Units
		if len(units) == 0 {
			units = []byte{0}
		}
		for _, u := range units {
			s.handle(ctx, u, req, log)
		}
		return PDU{}, false
	}
	if len(s.Units) > 0 && !slices.Contains(s.Units, unit) {
		return PDU{}, false
	}
	return s.handle(ctx, unit, req, log)
}
