// One client connection: its reader (the HTTP handler's goroutine), its
// writer goroutine and the bounded queue between the server and the writer.

package ddp

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
)

// conn is one DDP session.
type conn struct {
	srv     *Server
	t       transport
	log     *slog.Logger
	session string

	// Outbox: filled by the reader and the dispatcher, drained by the writer.
	mu       sync.Mutex
	out      [][]byte
	outBytes int
	closing  bool
	wake     chan struct{}
	done     chan struct{}
	graceful bool

	lastRecv  atomic.Int64 // unix nanoseconds of the last message received
	pinged    atomic.Bool  // a ping is outstanding
	lastBeat  atomic.Int64 // unix nanoseconds of the last SockJS heartbeat
	connected atomic.Bool

	principal atomic.Pointer[auth.Principal]
	// loginFailures counts failed logins (reader goroutine only).
	loginFailures int

	// Owned by the dispatcher goroutine.
	subs   map[string]*subscription
	subSeq uint64
	box    map[string]map[string]*docView
	dirty  []docRef
	gone   bool
}

func newConn(srv *Server, t transport, log *slog.Logger) *conn {
	c := &conn{srv: srv, t: t, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}),
		subs: map[string]*subscription{}, box: map[string]map[string]*docView{}}
	now := srv.now().UnixNano()
	c.lastRecv.Store(now)
	c.lastBeat.Store(now)
	c.principal.Store(auth.Anonymous(srv.anonymousGrants()))
	return c
}

// send queues one message. A connection whose queue exceeds
// Limits.MaxQueueBytes is cut: a client that stops reading never slows the
// others nor grows the hub's memory without bound.
func (c *conn) send(msg []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.outBytes+len(msg) > c.srv.limits.MaxQueueBytes {
		c.closing = true
		c.mu.Unlock()
		c.srv.stats.cut.Add(1)
		c.log.Warn("ddp: client does not read its messages fast enough; disconnecting it",
			"session", c.session, "queued", c.outBytes)
		close(c.done)
		c.t.kill()
		return
	}
	c.out = append(c.out, msg)
	c.outBytes += len(msg)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close ends the session: with graceful, the writer sends what is queued
// and the framing's close frame; otherwise the socket closes at once.
func (c *conn) close(graceful bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.graceful = graceful
	c.mu.Unlock()
	close(c.done)
	if !graceful {
		c.t.kill()
	}
}

// writeLoop is the connection's writer; it exits when the connection closes.
func (c *conn) writeLoop() {
	var batch [][]byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			c.mu.Lock()
			batch, c.out, c.outBytes = c.out, nil, 0
			graceful := c.graceful
			c.mu.Unlock()
			if graceful {
				if len(batch) > 0 {
					_ = c.t.write(batch)
				}
				c.t.close()
			}
			return
		}
		c.mu.Lock()
		batch, c.out = c.out, batch[:0]
		c.outBytes = 0
		c.mu.Unlock()
		if len(batch) == 0 {
			if c.beatDue() {
				if err := c.t.heartbeat(); err != nil {
					c.close(false)
				}
			}
			continue
		}
		if err := c.t.write(batch); err != nil {
			c.close(false)
			continue
		}
		clear(batch)
	}
}

// beatDue reports whether a SockJS heartbeat was asked for.
func (c *conn) beatDue() bool {
	return c.lastBeat.Load() == 0 && c.lastBeat.CompareAndSwap(0, c.srv.now().UnixNano())
}

// received records that the client is alive.
func (c *conn) received() {
	c.lastRecv.Store(c.srv.now().UnixNano())
	c.pinged.Store(false)
}

// checkAlive is called by the server's heartbeat loop: after PingInterval
// of silence it sends a ping, and after PongTimeout more it closes the
// connection.
func (c *conn) checkAlive(now time.Time) {
	idle := now.Sub(time.Unix(0, c.lastRecv.Load()))
	switch {
	case idle >= c.srv.limits.PingInterval+c.srv.limits.PongTimeout:
		c.log.Debug("ddp: no message from the client; closing", "session", c.session, "idle", idle)
		c.close(false)
	case idle >= c.srv.limits.PingInterval && c.connected.Load() && c.pinged.CompareAndSwap(false, true):
		c.send([]byte(`{"msg":"ping"}`))
	}
	if _, ok := c.t.(*sockjsTransport); ok && now.Sub(time.Unix(0, c.lastBeat.Load())) >= sockjsHeartbeat {
		c.lastBeat.Store(0)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// sockjsHeartbeat is how often a SockJS session gets an "h" frame (SockJS's
// default).
const sockjsHeartbeat = 25 * time.Second

// errClosed is returned by the read loop when the session closed.
var errClosed = errors.New("ddp: connection closed")

// readLoop reads and handles messages until the connection ends.
func (c *conn) readLoop() error {
	for {
		msgs, err := c.t.read()
		if err != nil {
			return err
		}
		select {
		case <-c.done:
			return errClosed
		default:
		}
		for _, data := range msgs {
			c.received()
			c.handle(data)
		}
	}
}

// newSessionID returns a random DDP session id.
func newSessionID() string { return rand.Text()[:17] }
