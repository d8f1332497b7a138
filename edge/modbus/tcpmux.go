package modbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tcpMux is the Modbus TCP transport with several requests in flight on
// one connection (ClientOptions.MaxInFlight > 1); see "Several requests in
// flight" in the package documentation. Unlike transport implementations
// it is called concurrently.
type tcpMux struct {
	addr        string
	dialTimeout time.Duration
	log         *slog.Logger

	// slots holds one token per outstanding request: at most MaxInFlight.
	slots chan struct{}
	// lock guards the fields below and serialises dialling and writing
	// frames; a channel rather than a mutex so that waiting honours the
	// caller's context.
	lock   chan struct{}
	conn   *muxConn // nil (or failed) when not connected
	closed bool
	txid   uint16
	wbuf   []byte
}

// muxConn is one connection and its reader goroutine, which matches
// responses to pending requests by transaction id.
type muxConn struct {
	conn       net.Conn
	addr       string
	log        *slog.Logger
	readerDone chan struct{} // closed when the reader goroutine returns

	mu        sync.Mutex
	pending   map[uint16]*muxCall // requests sent and not answered, by transaction id
	lastFrame time.Time           // arrival of the last well-formed frame
	err       error               // why the connection ended; nil while usable
}

// muxCall is one outstanding request. Whoever removes it from pending (the
// reader with the response, fail with the connection's error) sends
// exactly one result on done, except the request's own waiter, which
// removes it when giving up and then expects nothing.
type muxCall struct {
	txid uint16
	unit byte
	sent time.Time
	// idle: the request was the only one on a connection reused from
	// earlier requests, so if the peer turns out to have closed it
	// before reading anything, a retry on a new connection is safe.
	idle bool
	done chan muxResult // buffered: senders never block
}

type muxResult struct {
	resp PDU // Data is the call's own copy
	err  error
}

func newTCPMux(addr string, dialTimeout time.Duration, maxInFlight int, log *slog.Logger) *tcpMux {
	return &tcpMux{
		addr: addr, dialTimeout: dialTimeout, log: log,
		slots: make(chan struct{}, maxInFlight), lock: make(chan struct{}, 1),
		wbuf: make([]byte, 0, maxTCPADU),
	}
}

// roundTrip sends req and waits for its response, for at most timeout (or
// until ctx ends). The response PDU's Data belongs to the caller.
func (m *tcpMux) roundTrip(ctx context.Context, unit byte, req PDU, timeout time.Duration) (PDU, error) {
	select {
	case m.slots <- struct{}{}:
	case <-ctx.Done():
		return PDU{}, ctxError(ctx, fmt.Errorf("waiting for request in flight: %w", ctx.Err()))
	}
	defer func() { <-m.slots }()
	for attempt := 0; ; attempt++ {
		mc, call, err := m.send(ctx, unit, req, timeout)
		if err != nil {
			return PDU{}, err
		}
		resp, stale, err := m.wait(ctx, mc, call, timeout)
		if stale && attempt == 0 && ctx.Err() == nil {
			m.log.Debug("modbus connection closed by peer, redialling", "addr", m.addr, "err", err)
			continue
		}
		return resp, err
	}
}

// send registers a call for req on the current connection, dialling one
// if needed, and writes the request. A write error fails the connection,
// which delivers the error to the call.
func (m *tcpMux) send(ctx context.Context, unit byte, req PDU, timeout time.Duration) (*muxConn, *muxCall, error) {
	select {
	case m.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctxError(ctx, fmt.Errorf("waiting to send: %w", ctx.Err()))
	}
	defer func() { <-m.lock }()
	if m.closed {
		return nil, nil, fmt.Errorf("client closed: %w", net.ErrClosed)
	}
	call := &muxCall{unit: unit, done: make(chan muxResult, 1)}
	var mc *muxConn
	for {
		reused := m.conn != nil
		if !reused {
			conn, err := dialTCP(ctx, m.addr, m.dialTimeout, m.log)
			if err != nil {
				return nil, nil, err
			}
			m.conn = startMuxConn(conn, m.addr, m.log)
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, ctxError(ctx, err)
		}
		mc = m.conn
		mc.mu.Lock()
		if mc.err != nil { // lost since the last request: redial
			mc.mu.Unlock()
			m.conn = nil
			continue
		}
		for m.txid++; mc.pending[m.txid] != nil; m.txid++ {
		}
		call.txid = m.txid
		call.idle = reused && len(mc.pending) == 0
		call.sent = time.Now()
		mc.pending[call.txid] = call
		mc.mu.Unlock()
		break
	}
	// The write is not interrupted by ctx: a partial frame would break the
	// stream for every request on the connection. A frame is at most 260
	// bytes, so it only blocks when the device stops reading.
	m.wbuf = appendTCPFrame(m.wbuf[:0], call.txid, unit, req)
	_ = mc.conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := mc.conn.Write(m.wbuf); err != nil {
		mc.fail(classifyIOError(context.Background(), m.addr, "write request", err, true))
	}
	return mc, call, nil
}

// wait waits for call's result. stale reports that the request failed
// because the peer had closed the reused idle connection before answering
// anything, so it may be retried once.
func (m *tcpMux) wait(ctx context.Context, mc *muxConn, call *muxCall, timeout time.Duration) (resp PDU, stale bool, err error) {
	timer := time.NewTimer(time.Until(call.sent.Add(timeout)))
	defer timer.Stop()
	var res muxResult
	select {
	case res = <-call.done:
	case <-ctx.Done():
		if !mc.forget(call) {
			res = <-call.done // answered (or failed) meanwhile
			break
		}
		return PDU{}, false, ctxError(ctx, fmt.Errorf("waiting for response from %s (transaction %d): %w", m.addr, call.txid, ctx.Err()))
	case <-timer.C:
		if !mc.forget(call) {
			res = <-call.done
			break
		}
		err := fmt.Errorf("%w: no response from %s in %v (transaction %d)", ErrTimeout, m.addr, timeout, call.txid)
		if mc.silentSince(call.sent) {
			// Nothing at all came back since this request was sent: the
			// device (or the path to it) is gone, not just this request.
			mc.fail(fmt.Errorf("%w: %s sent nothing for %v, connection closed", ErrTimeout, m.addr, timeout))
		}
		return PDU{}, false, err
	}
	if res.err != nil {
		stale = call.idle && errors.Is(res.err, errStale) && mc.silentSince(call.sent)
		return PDU{}, stale, res.err
	}
	return res.resp, false, nil
}

// close fails every outstanding request with net.ErrClosed, closes the
// connection and waits for its reader goroutine.
func (m *tcpMux) close() error {
	m.lock <- struct{}{}
	m.closed = true
	mc := m.conn
	m.conn = nil
	<-m.lock
	if mc == nil {
		return nil
	}
	mc.fail(fmt.Errorf("client closed: %w", net.ErrClosed))
	<-mc.readerDone
	return nil
}

func startMuxConn(conn net.Conn, addr string, log *slog.Logger) *muxConn {
	mc := &muxConn{
		conn: conn, addr: addr, log: log, readerDone: make(chan struct{}),
		pending: make(map[uint16]*muxCall),
	}
	go mc.read()
	return mc
}

// read is the connection's reader goroutine: it hands each response to the
// request with its transaction id and discards the rest, until the
// connection fails or is closed (by fail, which makes the read return).
func (mc *muxConn) read() {
	defer close(mc.readerDone)
	br := bufio.NewReaderSize(mc.conn, 16*maxTCPADU)
	var buf [maxTCPADU]byte
	for {
		h, p, err := readTCPFrame(br, &buf)
		if err != nil {
			// io.EOF only comes between frames, hence first: a peer that
			// closed the connection before answering marks it stale.
			mc.fail(classifyIOError(context.Background(), mc.addr, "read response", err, true))
			return
		}
		mc.mu.Lock()
		mc.lastFrame = time.Now()
		call := mc.pending[h.TxID]
		delete(mc.pending, h.TxID)
		mc.mu.Unlock()
		if call == nil {
			// A late reply to a request that timed out or was cancelled,
			// or garbage.
			mc.log.Debug("modbus discarding response with unknown transaction id", "addr", mc.addr, "txid", h.TxID)
			continue
		}
		var res muxResult
		switch {
		case h.ProtoID != 0:
			res.err = fmt.Errorf("response protocol id %d, want 0: %w", h.ProtoID, ErrInvalidResponse)
		case h.Unit != call.unit:
			res.err = fmt.Errorf("response unit id %d, want %d: %w", h.Unit, call.unit, ErrInvalidResponse)
		default:
			res.resp = PDU{Function: p.Function, Data: append([]byte(nil), p.Data...)}
		}
		call.done <- res
	}
}

// forget removes call from the pending requests; false means it was
// already removed, so its result is on the way.
func (mc *muxConn) forget(call *muxCall) bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.pending[call.txid] != call {
		return false
	}
	delete(mc.pending, call.txid)
	return true
}

// silentSince reports that no frame has arrived since t.
func (mc *muxConn) silentSince(t time.Time) bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.lastFrame.Before(t)
}

// fail ends the connection: the first call records err, closes the
// connection (which stops the reader) and delivers err to every pending
// request. Later calls do nothing.
func (mc *muxConn) fail(err error) {
	mc.mu.Lock()
	if mc.err != nil {
		mc.mu.Unlock()
		return
	}
	mc.err = err
	calls := mc.pending
	mc.pending = nil
	mc.mu.Unlock()
	_ = mc.conn.Close()
	mc.log.Debug("modbus connection closed", "addr", mc.addr, "err", err, "outstanding", len(calls))
	for _, call := range calls {
		call.done <- muxResult{err: err}
	}
}
