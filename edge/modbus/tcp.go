package modbus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"
)

// MBAP framing (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3):
//
//	transaction id  2 bytes  copied from request to response
//	protocol id     2 bytes  0 = Modbus
//	length          2 bytes  number of following bytes (unit id + PDU)
//	unit id         1 byte   addresses a device behind a gateway
//	PDU             function code + data, at most 253 bytes
const (
	mbapHeaderSize = 7
	maxTCPADU      = mbapHeaderSize + MaxPDUSize // 260
	mbapMinLength  = 2                           // unit id + function code
	mbapMaxLength  = 1 + MaxPDUSize              // 254
)

// mbapHeader is a decoded MBAP header.
type mbapHeader struct {
	TxID    uint16
	ProtoID uint16
	Length  uint16
	Unit    byte
}

// frameError reports a frame that cannot be decoded. The stream is out of
// sync after it, so the connection must be closed.
type frameError struct{ msg string }

func (e *frameError) Error() string { return "malformed MBAP frame: " + e.msg }

// appendTCPFrame appends the MBAP frame for p to dst.
func appendTCPFrame(dst []byte, txid uint16, unit byte, p PDU) []byte {
	dst = binary.BigEndian.AppendUint16(dst, txid)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(2+len(p.Data)))
	dst = append(dst, unit, p.Function)
	return append(dst, p.Data...)
}

// parseMBAPHeader decodes and checks the length field of a 7-byte header.
func parseMBAPHeader(b []byte) (mbapHeader, error) {
	h := mbapHeader{TxID: be16(b), ProtoID: be16(b[2:]), Length: be16(b[4:]), Unit: b[6]}
	if h.Length < mbapMinLength || h.Length > mbapMaxLength {
		return h, &frameError{fmt.Sprintf("length field %d out of range %d..%d", h.Length, mbapMinLength, mbapMaxLength)}
	}
	return h, nil
}

// parseTCPFrame decodes exactly one complete MBAP frame held in b. The PDU's
// Data aliases b.
func parseTCPFrame(b []byte) (mbapHeader, PDU, error) {
	if len(b) < mbapHeaderSize+1 {
		return mbapHeader{}, PDU{}, &frameError{fmt.Sprintf("%d bytes, want at least %d", len(b), mbapHeaderSize+1)}
	}
	h, err := parseMBAPHeader(b)
	if err != nil {
		return h, PDU{}, err
	}
	if len(b) != mbapHeaderSize-1+int(h.Length) {
		return h, PDU{}, &frameError{fmt.Sprintf("%d bytes, length field says %d", len(b), mbapHeaderSize-1+int(h.Length))}
	}
	return h, PDU{Function: b[mbapHeaderSize], Data: b[mbapHeaderSize+1:]}, nil
}

// readTCPFrame reads one MBAP frame from r into buf. The PDU's Data aliases
// buf. It returns io.EOF only when r ends before the first byte of a frame,
// io.ErrUnexpectedEOF for a truncated frame and *frameError for a bad
// length field. The protocol id is not checked: callers decide.
func readTCPFrame(r io.Reader, buf *[maxTCPADU]byte) (mbapHeader, PDU, error) {
	if _, err := io.ReadFull(r, buf[:mbapHeaderSize]); err != nil {
		return mbapHeader{}, PDU{}, err
	}
	h, err := parseMBAPHeader(buf[:mbapHeaderSize])
	if err != nil {
		return h, PDU{}, err
	}
	n := mbapHeaderSize - 1 + int(h.Length)
	if _, err := io.ReadFull(r, buf[mbapHeaderSize:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, PDU{}, err
	}
	return h, PDU{Function: buf[mbapHeaderSize], Data: buf[mbapHeaderSize+1 : n]}, nil
}

// transport carries request PDUs to one device and returns its responses.
// Implementations frame the PDU (MBAP, RTU, ASCII) and own the connection;
// the Client guarantees at most one call in flight. The returned PDU's Data
// may alias an internal buffer and is valid until the next call.
type transport interface {
	roundTrip(ctx context.Context, unit byte, req PDU, timeout time.Duration) (PDU, error)
	close() error
}

// tcpTransport is Modbus TCP (MBAP) over a lazily dialled TCP connection.
type tcpTransport struct {
	addr        string
	dialTimeout time.Duration
	log         *slog.Logger

	conn net.Conn // nil when not connected
	br   *bufio.Reader
	txid uint16
	wbuf []byte
	rbuf [maxTCPADU]byte
}

var _ transport = (*tcpTransport)(nil)

func newTCPTransport(addr string, dialTimeout time.Duration, log *slog.Logger) *tcpTransport {
	return &tcpTransport{addr: addr, dialTimeout: dialTimeout, log: log, wbuf: make([]byte, 0, maxTCPADU)}
}

// errStale marks an error that shows a reused connection had already been
// closed by the peer before it saw our request, so one retry on a fresh
// connection is safe.
var errStale = errors.New("connection closed by peer")

func (t *tcpTransport) roundTrip(ctx context.Context, unit byte, req PDU, timeout time.Duration) (PDU, error) {
	for attempt := 0; ; attempt++ {
		reused := t.conn != nil
		if !reused {
			if err := t.dial(ctx); err != nil {
				return PDU{}, err
			}
		}
		resp, err := t.exchange(ctx, unit, req, timeout)
		if err == nil {
			return resp, nil
		}
		// Whatever went wrong, the stream may hold a late or partial reply:
		// never reuse it.
		t.closeConn()
		if reused && attempt == 0 && errors.Is(err, errStale) && ctx.Err() == nil {
			t.log.Debug("modbus connection closed by peer, redialling", "addr", t.addr, "err", err)
			continue
		}
		return PDU{}, err
	}
}

func (t *tcpTransport) dial(ctx context.Context) error {
	conn, err := dialTCP(ctx, t.addr, t.dialTimeout, t.log)
	if err != nil {
		return err
	}
	t.conn = conn
	if t.br == nil {
		t.br = bufio.NewReaderSize(conn, 2*maxTCPADU)
	} else {
		t.br.Reset(conn)
	}
	return nil
}

// dialTCP connects to addr, classifying failures as the Client reports
// them.
func dialTCP(ctx context.Context, addr string, timeout time.Duration, log *slog.Logger) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, fmt.Errorf("dial %s: %w", addr, err))
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("dial %s: %w: %w", addr, ErrTimeout, err)
		}
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	log.Debug("modbus connected", "addr", addr, "local", conn.LocalAddr().String())
	return conn, nil
}

// ctxError returns err for a request ended by ctx, wrapping ErrTimeout too
// when the context's deadline passed.
func ctxError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w: %w", ErrTimeout, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// aLongTimeAgo is a deadline in the past that interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func (t *tcpTransport) exchange(ctx context.Context, unit byte, req PDU, timeout time.Duration) (PDU, error) {
	conn := t.conn
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return PDU{}, fmt.Errorf("set deadline: %w", err)
	}
	if ctx.Done() != nil {
		// Interrupt blocked I/O when ctx ends. Wait for the callback if it
		// already started, so it cannot move the deadline of a later request.
		done := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(done)
			_ = conn.SetDeadline(aLongTimeAgo)
		})
		defer func() {
			if !stop() {
				<-done
			}
		}()
	}

	t.txid++
	txid := t.txid
	t.wbuf = appendTCPFrame(t.wbuf[:0], txid, unit, req)
	if _, err := conn.Write(t.wbuf); err != nil {
		return PDU{}, t.ioError(ctx, "write request", err, true)
	}
	for first := true; ; first = false {
		h, resp, err := readTCPFrame(t.br, &t.rbuf)
		if err != nil {
			return PDU{}, t.ioError(ctx, "read response", err, first)
		}
		if h.TxID != txid {
			// A late reply to an earlier request (or garbage): skip it and
			// keep waiting for ours until the deadline.
			t.log.Debug("modbus discarding response with stale transaction id", "addr", t.addr, "got", h.TxID, "want", txid)
			continue
		}
		if h.ProtoID != 0 {
			return PDU{}, fmt.Errorf("response protocol id %d, want 0: %w", h.ProtoID, ErrInvalidResponse)
		}
		if h.Unit != unit {
			return PDU{}, fmt.Errorf("response unit id %d, want %d: %w", h.Unit, unit, ErrInvalidResponse)
		}
		return resp, nil
	}
}

// ioError classifies a read or write error. first reports that nothing of
// the response had been read yet (so a closed connection may be stale).
func (t *tcpTransport) ioError(ctx context.Context, op string, err error, first bool) error {
	return classifyIOError(ctx, t.addr, op, err, first)
}

// classifyIOError is ioError for any connection to addr.
func classifyIOError(ctx context.Context, addr, op string, err error, first bool) error {
	err = fmt.Errorf("%s %s: %w", op, addr, err)
	if ctx.Err() != nil {
		return ctxError(ctx, err)
	}
	var fe *frameError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return fmt.Errorf("%w: %w: %w", ErrTimeout, context.DeadlineExceeded, err)
		}
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.As(err, &fe), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	case first && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)):
		return fmt.Errorf("%w: %w", errStale, err)
	}
	return err
}

func (t *tcpTransport) closeConn() {
	if t.conn != nil {
		_ = t.conn.Close()
		t.conn = nil
		t.log.Debug("modbus connection closed", "addr", t.addr)
	}
}

func (t *tcpTransport) close() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	return err
}
