package modbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Handler answers Modbus requests for a Server.
//
// HandleModbus returns the response PDU for req addressed to unit. An error
// that is (or wraps) an *ExceptionError makes the server send that exception
// response; ErrNoResponse makes it send nothing; any other error is logged
// and answered with ServerDeviceFailure. req.Data is only valid during the
// call. HandleModbus may be called concurrently for different connections.
type Handler interface {
	HandleModbus(ctx context.Context, unit byte, req PDU) (PDU, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, unit byte, req PDU) (PDU, error)

// HandleModbus calls f.
func (f HandlerFunc) HandleModbus(ctx context.Context, unit byte, req PDU) (PDU, error) {
	return f(ctx, unit, req)
}

// serverWriteTimeout bounds writing one response to a slow client.
const serverWriteTimeout = 10 * time.Second

// Server serves Modbus TCP (Serve), RTU over TCP (ServeRTUOverTCP) and
// RTU or ASCII on a serial port or pty (ListenAndServe): many concurrent
// connections, requests on each connection answered in order. Set the
// fields before serving.
//
// On serial lines (RTU, ASCII, and RTU over TCP, whose gateway passes
// frames to a serial bus) the server behaves as a slave must: it never
// answers a broadcast (unit 0; write requests are executed for every unit
// of Units, or for unit 0 when Units is empty), and it ignores requests for
// unit ids not in Units silently, whatever the Handler would answer.
type Server struct {
	// Handler answers requests; required.
	Handler Handler
	// Logger receives connection and error logs; default: discard.
	Logger *slog.Logger
	// IdleTimeout closes a connection that sends no complete request for
	// this long; 0 means never.
	IdleTimeout time.Duration
	// MaxConns limits concurrent connections; connections beyond it are
	// closed at once, as devices with few connection slots do. 0 means no
	// limit.
	MaxConns int
	// Units lists the slave addresses (1..247) the server answers on serial
	// lines; empty means every one. Over Modbus TCP it does not apply: the
	// unit id there addresses devices behind a gateway and the Handler
	// decides.
	Units []byte
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ListenAndServe serves on rawURL until ctx is done:
//
//   - tcp://127.0.0.1:5020 (port default 502): Modbus TCP, as Serve;
//   - rtuovertcp://127.0.0.1:5021: RTU frames over TCP, as ServeRTUOverTCP;
//   - rtu:///dev/ttyUSB0?baud=19200&parity=E&databits=8&stopbits=1 and
//     ascii:///dev/ttyUSB0?...: a serial port or pty (see NewClient for the
//     parameters), reopened with backoff if it fails or vanishes.
func (s *Server) ListenAndServe(ctx context.Context, rawURL string) error {
	ep, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	switch ep.scheme {
	case schemeRTU, schemeASCII:
		if s.Handler == nil {
			return errors.New("modbus server: no handler")
		}
		return s.serveSerial(ctx, ep)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", ep.addr)
	if err != nil {
		return fmt.Errorf("modbus server %s: %w", rawURL, err)
	}
	s.logger().Info("modbus server listening", "addr", l.Addr().String(), "framing", ep.scheme.String())
	if ep.scheme == schemeRTUOverTCP {
		return s.ServeRTUOverTCP(ctx, l)
	}
	return s.Serve(ctx, l)
}

// Serve accepts Modbus TCP connections on l and serves each in its own
// goroutine until ctx is done; then it closes l and every connection, waits
// for their goroutines and returns nil. It returns an error if l fails
// otherwise. Malformed frames close the connection (a bad MBAP length) or
// are skipped (a protocol id other than 0); malformed PDUs get the
// exception response the protocol prescribes.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serveListener(ctx, l, s.serveConn)
}

// ServeRTUOverTCP is Serve for RTU frames over TCP, as a serial gateway
// (or a device server) carries them: no MBAP header, a CRC on every frame,
// one request at a time. Frames with a bad CRC are dropped; the serial
// line rules of Server apply.
func (s *Server) ServeRTUOverTCP(ctx context.Context, l net.Listener) error {
	return s.serveListener(ctx, l, func(ctx context.Context, conn net.Conn, log *slog.Logger) {
		log.Debug("modbus rtu-over-tcp connection accepted")
		ln := newLine(connLine{conn}, serialConfig{}, false)
		err := s.serveLine(ctx, ln, false, 0, log)
		log.Debug("modbus connection closed", "err", err)
	})
}

func (s *Server) serveListener(ctx context.Context, l net.Listener, serve func(ctx context.Context, conn net.Conn, log *slog.Logger)) error {
	if s.Handler == nil {
		_ = l.Close()
		return errors.New("modbus server: no handler")
	}
	log := s.logger().With("listener", l.Addr().String())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
	)
	// The closer ends Accept and every connection's blocked read when ctx ends.
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		_ = l.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()

	var retry time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				cancel()
				wg.Wait()
				return nil
			}
			if temporaryAcceptError(err) {
				retry = min(max(2*retry, 5*time.Millisecond), time.Second)
				log.Warn("modbus accept failed, retrying", "err", err, "in", retry)
				select {
				case <-time.After(retry):
				case <-ctx.Done():
				}
				continue
			}
			cancel()
			wg.Wait()
			return fmt.Errorf("modbus server accept: %w", err)
		}
		retry = 0

		mu.Lock()
		if ctx.Err() != nil || (s.MaxConns > 0 && len(conns) >= s.MaxConns) {
			mu.Unlock()
			log.Debug("modbus connection refused", "remote", conn.RemoteAddr().String(), "max_conns", s.MaxConns)
			_ = conn.Close()
			continue
		}
		conns[conn] = struct{}{}
		mu.Unlock()

		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, conn)
				mu.Unlock()
				_ = conn.Close()
			}()
			serve(ctx, conn, log.With("remote", conn.RemoteAddr().String()))
		}()
	}
}

// temporaryAcceptError reports accept errors worth retrying (out of file
// descriptors, aborted handshakes).
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// serveConn answers requests on conn until it fails or ctx ends.
func (s *Server) serveConn(ctx context.Context, conn net.Conn, log *slog.Logger) {
	log.Debug("modbus connection accepted")
	br := bufio.NewReaderSize(conn, 2*maxTCPADU)
	var rbuf [maxTCPADU]byte
	wbuf := make([]byte, 0, maxTCPADU)
	for {
		if s.IdleTimeout > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		h, req, err := readTCPFrame(br, &rbuf)
		if err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
				log.Debug("modbus connection closed", "err", err)
			default:
				log.Debug("modbus connection dropped", "err", err)
			}
			return
		}
		if h.ProtoID != 0 {
			log.Debug("modbus frame with protocol id not 0 skipped", "protocol_id", h.ProtoID)
			continue
		}
		resp, ok := s.handle(ctx, h.Unit, req, log)
		if !ok {
			continue
		}
		wbuf = appendTCPFrame(wbuf[:0], h.TxID, h.Unit, resp)
		_ = conn.SetWriteDeadline(time.Now().Add(serverWriteTimeout))
		if _, err := conn.Write(wbuf); err != nil {
			log.Debug("modbus connection write failed", "err", err)
			return
		}
	}
}

// handle calls the handler and turns its result into a response PDU; ok is
// false when no response must be sent.
func (s *Server) handle(ctx context.Context, unit byte, req PDU, log *slog.Logger) (resp PDU, ok bool) {
	fn := req.Function
	if fn == 0 || fn&0x80 != 0 {
		return NewExceptionResponse(fn&0x7F, IllegalFunction), true
	}
	defer func() {
		if r := recover(); r != nil {
			log.Error("modbus handler panicked", "function", fn, "unit", unit, "panic", r)
			resp, ok = NewExceptionResponse(fn, ServerDeviceFailure), true
		}
	}()
	resp, err := s.Handler.HandleModbus(ctx, unit, req)
	if err != nil {
		var ex *ExceptionError
		switch {
		case errors.Is(err, ErrNoResponse):
			return PDU{}, false
		case errors.As(err, &ex):
			log.Debug("modbus exception response", "function", fn, "unit", unit, "err", err)
			return NewExceptionResponse(fn, ex.Code), true
		default:
			log.Warn("modbus handler failed", "function", fn, "unit", unit, "err", err)
			return NewExceptionResponse(fn, ServerDeviceFailure), true
		}
	}
	if 1+len(resp.Data) > MaxPDUSize {
		log.Error("modbus handler response too large", "function", fn, "unit", unit, "bytes", 1+len(resp.Data))
		return NewExceptionResponse(fn, ServerDeviceFailure), true
	}
	return resp, true
}
