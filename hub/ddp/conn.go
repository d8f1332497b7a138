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
	client  string // the client's address, as the REST API sees it

	// Outbox: filled by the reader and the dispatcher, drained by the writer.
	mu       sync.Mutex
	out      [][]byte
	outBytes int
	writing  bool // a writer goroutine runs
	beat     bool // a SockJS heartbeat is due
	closing  bool
	graceful bool
	ended    bool // the close frame was sent

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
	c := &conn{srv: srv, t: t, log: log,
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
		c.mu.Unlock()
		c.cut()
		return
	}
	c.out = append(c.out, msg)
	c.outBytes += len(msg)
	c.kick()
	c.mu.Unlock()
}

// sendAll queues a batch of messages under one lock and one writer
// wake-up, with send's queue limit.
func (c *conn) sendAll(msgs [][]byte) {
	if len(msgs) == 0 {
		return
	}
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.outBytes+size > c.srv.limits.MaxQueueBytes {
		c.mu.Unlock()
		c.cut()
		return
	}
	c.out = append(c.out, msgs...)
	c.outBytes += size
	c.kick()
	c.mu.Unlock()
}

// cut disconnects a client whose queue overflowed.
func (c *conn) cut() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.out, c.outBytes = nil, 0
	c.mu.Unlock()
	c.srv.stats.cut.Add(1)
	c.log.Warn("ddp: client does not read its messages fast enough; disconnecting it", "session", c.session)
	c.t.kill()
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
	if graceful {
		c.kick()
	} else {
		c.out, c.outBytes = nil, 0
	}
	c.mu.Unlock()
	if !graceful {
		c.t.kill()
	}
}

// kick starts the writer unless it runs; c.mu is held. The writer exits
// when the queue is empty, so an idle connection costs no goroutine.
func (c *conn) kick() {
	if c.writing {
		return
	}
	c.writing = true
	c.srv.writers.Add(1)
	go func() {
		defer c.srv.writers.Done()
		c.drain()
	}()
}

// drain writes the queue until it is empty.
func (c *conn) drain() {
	for {
		c.mu.Lock()
		batch := c.out
		c.out, c.outBytes = nil, 0
		beat := c.beat
		c.beat = false
		if len(batch) == 0 && !beat {
			c.writing = false
			end := c.closing && c.graceful && !c.ended
			if end {
				c.ended = true
			}
			c.mu.Unlock()
			if end {
				c.t.close()
			}
			return
		}
		c.mu.Unlock()
		var err error
		if len(batch) > 0 {
			err = c.t.write(batch)
		} else {
			err = c.t.heartbeat()
		}
		if err != nil {
			c.close(false)
			// Also when the session was already closing gracefully: the
			// reader must stop too.
			c.t.kill()
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			return
		}
	}
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
		c.lastBeat.Store(now.UnixNano())
		c.mu.Lock()
		if !c.closing {
			c.beat = true
			c.kick()
		}
		c.mu.Unlock()
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
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return errClosed
		}
		for _, data := range msgs {
			c.received()
			c.handle(data)
		}
	}
}

// newSessionID returns a random DDP session id.
func newSessionID() string { return rand.Text()[:17] }
