// Batched socket writes: a batch of DDP messages leaves in one system
// call instead of one per WebSocket frame.

package ddp

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// batchConn is the hijacked connection under a session's WebSocket. Between
// begin and end, frames are collected and written at end (or when 64 KiB
// are waiting); otherwise writes pass through. Writes are serialised, so
// gorilla's control frames (pongs from the read goroutine) stay safe.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	buf      []byte
	batching bool
}

const batchFlushBytes = 64 << 10

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= batchFlushBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	if cap(b.buf) > 4*batchFlushBytes {
		b.buf = nil // do not keep a large buffer on an idle session
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// end writes what the batch collected.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	err := b.flushLocked()
	if len(b.buf) == 0 && cap(b.buf) > 0 {
		b.buf = nil
	}
	return err
}

// writeFrames writes msgs as unmasked, uncompressed WebSocket text frames
// (the server's) in one write: the frame is built straight into the
// batch, without gorilla's per-message writer. Uncompressed frames are
// valid whether or not permessage-deflate was negotiated (RFC 7692 5).
func (b *batchConn) writeFrames(msgs [][]byte, deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.Conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	for _, m := range msgs {
		n := len(m)
		switch {
		case n <= 125:
			b.buf = append(b.buf, 0x81, byte(n))
		case n <= 0xffff:
			b.buf = append(b.buf, 0x81, 126, byte(n>>8), byte(n))
		default:
			b.buf = append(b.buf, 0x81, 127)
			b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(n))
		}
		b.buf = append(b.buf, m...)
		if len(b.buf) >= batchFlushBytes {
			if err := b.flushLocked(); err != nil {
				return err
			}
		}
	}
	err := b.flushLocked()
	if len(b.buf) == 0 && cap(b.buf) > 0 {
		b.buf = nil
	}
	return err
}

// offersDeflate reports whether the client offered permessage-deflate (and
// so may get compressed frames from gorilla).
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

// hijackWriter hands the upgrader a batchConn instead of the raw connection.
type hijackWriter struct {
	http.ResponseWriter
	conn *batchConn
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &batchConn{Conn: c}
	// The handshake response goes through rw's writer: point it at the
	// batchConn too, so that nothing bypasses it.
	rw.Writer.Reset(w.conn)
	return w.conn, rw, nil
}

func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
