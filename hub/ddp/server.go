package ddp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// Limits bound what one connection may cost. Zero fields take the
// defaults (DefaultLimits).
type Limits struct {
	// PingInterval is how long a connection may be silent before the
	// server pings it (default 15s).
	PingInterval time.Duration
	// PongTimeout is how long after that ping the server waits for any
	// message before it closes the connection (default 15s).
	PongTimeout time.Duration
	// MaxQueueBytes caps the messages queued for one client; a client that
	// falls that far behind is disconnected (default 32 MiB).
	MaxQueueBytes int
	// MaxMessageBytes caps one incoming frame (default 1 MiB).
	MaxMessageBytes int64
	// MaxFind caps the documents findAll returns (default 10,000).
	MaxFind int
	// WriteTimeout bounds writing one batch to a client (default 10s); over
	// SockJS's HTTP transports, waiting for the client's next poll.
	WriteTimeout time.Duration
	// DisconnectDelay closes a SockJS HTTP session that has no receiving
	// request for that long (default 5s, SockJS's disconnect_delay).
	DisconnectDelay time.Duration
	// MaxHTTPSessions caps the SockJS HTTP sessions open (and recently
	// ended) at once; a new one beyond it gets 503 (default 10,000). Such
	// a session holds no connection between requests, so http.maxConns
	// does not bound them.
	MaxHTTPSessions int
}

// DefaultLimits are the limits of a Server whose Limits are zero.
var DefaultLimits = Limits{
	PingInterval: 15 * time.Second, PongTimeout: 15 * time.Second, MaxQueueBytes: 32 << 20,
	MaxMessageBytes: 1 << 20, MaxFind: 10000, WriteTimeout: 10 * time.Second, DisconnectDelay: 5 * time.Second,
	MaxHTTPSessions: 10000,
}

func (l *Limits) defaults() {
	d := DefaultLimits
	if l.PingInterval <= 0 {
		l.PingInterval = d.PingInterval
	}
	if l.PongTimeout <= 0 {
		l.PongTimeout = d.PongTimeout
	}
	if l.MaxQueueBytes <= 0 {
		l.MaxQueueBytes = d.MaxQueueBytes
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = d.MaxMessageBytes
	}
	if l.MaxFind <= 0 {
		l.MaxFind = d.MaxFind
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.DisconnectDelay <= 0 {
		l.DisconnectDelay = d.DisconnectDelay
	}
	if l.MaxHTTPSessions <= 0 {
		l.MaxHTTPSessions = d.MaxHTTPSessions
	}
}

// Config is what a Server needs.
type Config struct {
	// Store is the hub store, wrapped so that its writes publish change
	// events (store.WithChanges), as the REST API's is: methods write
	// through it.
	Store store.Store
	// Auth authenticates logins, tokens and application keys.
	Auth *auth.Service
	// NC receives the change events (<Domain>.storage.changed.>).
	NC *nats.Conn
	// Domain is the NATS subject domain.
	Domain string
	// Anonymous are the grants of connections that did not log in (as the
	// REST API's auth.anonymous).
	Anonymous map[string]auth.Perm
	// Limits bound each connection.
	Limits Limits
	// Logger receives the server's notices (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests pass a fake one.
	Now func() time.Time
	// Guard is the login throttle and request rate limiter shared with the
	// REST API (api.Server.Guard): password logins count and are refused as
	// REST logins are, and every method call and subscription takes a
	// request from the caller's REST rate bucket. Required.
	Guard Guard
}

// Guard is what the DDP server needs of the REST API's limits
// (*api.Guard implements it).
type Guard interface {
	// ClientIP is the address of the client of r (X-Forwarded-For only
	// from trusted proxies).
	ClientIP(r *http.Request) string
	// CheckPassword runs check, a password comparison for account made
	// from client, unless the account or the client is locked out: then it
	// returns the time left and does not run check.
	CheckPassword(account, client string, check func() error) (retryAfter time.Duration, err error)
	// Allow takes one request from p's rate bucket (client's when p is
	// anonymous); false with the time to wait when it is empty.
	Allow(p *auth.Principal, client string) (ok bool, retryAfter time.Duration)
}

// Server serves DDP. Create it with New, mount Handler (or Mount) on the
// hub's HTTP server, call Start, and Close when done.
type Server struct {
	cfg    Config
	limits Limits
	log    *slog.Logger
	up     websocket.Upgrader

	jobs    chan job
	quit    chan struct{}
	wg      sync.WaitGroup
	writers sync.WaitGroup // connections' readers and writers
	sub     *nats.Subscription

	connMu sync.Mutex
	conns  map[*conn]struct{}

	// SockJS HTTP sessions by session id.
	xhrMu sync.Mutex
	xhr   map[string]*xhrTransport

	// Owned by the dispatcher: subscriptions by DDP collection name, and
	// the connections with documents to flush.
	byColl     map[string]map[*subscription]struct{}
	dirtyConns []*conn
	// msgs are the data messages encoded in the current round, shared by
	// every connection that sends them; flushBuf is flush's scratch slice.
	msgs     map[msgKey][]byte
	flushBuf [][]byte

	stats stats
}

// stats count what the server did, for tests and benchmarks.
type stats struct {
	cut    atomic.Int64
	events atomic.Int64
	opened atomic.Int64 // sessions
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Auth == nil || cfg.Guard == nil {
		return nil, errors.New("ddp: a store, an auth service and a guard (the REST API's login throttle and rate limiter) are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, limits: cfg.Limits, log: cfg.Logger, jobs: make(chan job, 4096), quit: make(chan struct{}),
		conns: map[*conn]struct{}{}, byColl: map[string]map[*subscription]struct{}{}, msgs: map[msgKey][]byte{},
		xhr: map[string]*xhrTransport{}}
	s.limits.defaults()
	s.up = websocket.Upgrader{
		ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
		EnableCompression: true,
		// DDP clients run in browsers on other origins (dashboards, the 3D
		// map); authentication is per message, never by cookie.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

func (s *Server) anonymousGrants() map[string]auth.Perm { return s.cfg.Anonymous }

// Start subscribes to the change events and starts the dispatcher and the
// heartbeat loop. With a nil Config.NC only this server's own method writes
// are live.
func (s *Server) Start() error {
	if s.cfg.NC != nil {
		sub, err := s.cfg.NC.Subscribe(subject.StorageChangedAll(s.cfg.Domain), s.onChange)
		if err != nil {
			return fmt.Errorf("ddp: subscribe to change events: %w", err)
		}
		// A burst of writes must not be dropped as a slow consumer: the
		// dispatcher catches up.
		if err := sub.SetPendingLimits(-1, 256<<20); err != nil {
			return fmt.Errorf("ddp: subscribe to change events: %w", err)
		}
		s.sub = sub
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.dispatch()
	}()
	go func() {
		defer s.wg.Done()
		s.heartbeats()
	}()
	return nil
}

// Close disconnects every client and stops the server's goroutines.
func (s *Server) Close() {
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
	}
	s.connMu.Lock()
	for c := range s.conns {
		c.close(true)
	}
	s.connMu.Unlock()
	// SockJS HTTP sessions end now: nobody may poll for their last frames.
	s.xhrMu.Lock()
	for _, t := range s.xhr {
		t.kill()
	}
	s.xhrMu.Unlock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.wg.Wait()
	s.writers.Wait()
}

// onChange queues a change event for the dispatcher.
func (s *Server) onChange(m *nats.Msg) {
	var ch store.Change
	if err := json.Unmarshal(m.Data, &ch); err != nil {
		s.log.Warn("ddp: bad change event", "subject", m.Subject, "err", err)
		return
	}
	s.stats.events.Add(1)
	select {
	case s.jobs <- job{change: &ch, at: time.Now()}:
	case <-s.quit:
	}
}

// heartbeats pings silent connections and closes dead ones.
func (s *Server) heartbeats() {
	tick := min(s.limits.PingInterval, s.limits.PongTimeout, s.limits.DisconnectDelay) / 4
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	var conns []*conn
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		s.connMu.Lock()
		conns = conns[:0]
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.connMu.Unlock()
		now := s.now()
		for _, c := range conns {
			c.checkAlive(now)
		}
		clear(conns)
		s.reapXHR(now)
	}
}

// Mount routes /websocket and /sockjs/... to the DDP server and every
// other path to next.
func (s *Server) Mount(next http.Handler) http.Handler {
	h := s.Handler()
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/websocket" || strings.HasPrefix(r.URL.Path, "/sockjs/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Handler serves /websocket (raw DDP), /sockjs/info,
// /sockjs/<server>/<session>/websocket (SockJS framing),
// /sockjs/<server>/<session>/{xhr,xhr_streaming,xhr_send} (SockJS's HTTP
// transports) and /sockjs/websocket (raw DDP, SockJS's raw endpoint).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /websocket", func(w http.ResponseWriter, r *http.Request) { s.serveWS(w, r, false) })
	mux.HandleFunc("GET /sockjs/websocket", func(w http.ResponseWriter, r *http.Request) { s.serveWS(w, r, false) })
	mux.HandleFunc("GET /sockjs/{server}/{session}/websocket", func(w http.ResponseWriter, r *http.Request) {
		s.serveWS(w, r, true)
	})
	mux.HandleFunc("/sockjs/info", s.sockjsInfo)
	mux.HandleFunc("/sockjs/{server}/{session}/xhr", func(w http.ResponseWriter, r *http.Request) { s.serveXHR(w, r, false) })
	mux.HandleFunc("/sockjs/{server}/{session}/xhr_streaming", func(w http.ResponseWriter, r *http.Request) {
		s.serveXHR(w, r, true)
	})
	mux.HandleFunc("/sockjs/{server}/{session}/xhr_send", s.serveXHRSend)
	mux.HandleFunc("/sockjs/", func(w http.ResponseWriter, r *http.Request) {
		// websocket, xhr-streaming and xhr-polling are served; SockJS
		// clients skip the transports /info does not rule out and that
		// answer 404 (eventsource, htmlfile, jsonp).
		http.Error(w, "SockJS transport not served: use websocket, xhr_streaming or xhr", http.StatusNotFound)
	})
	return mux
}

// sockjsInfo answers SockJS's /info probe.
func (s *Server) sockjsInfo(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "OPTIONS, GET")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = fmt.Fprintf(w, `{"websocket":true,"origins":["*:*"],"cookie_needed":false,"entropy":%d}`, rand.Uint32())
}

// serveWS upgrades the request and runs the session until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request, sockjs bool) {
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := s.up.Upgrade(hw, r, nil)
	if err != nil {
		return // the upgrader answered the error
	}
	// The HTTP server's read and write timeouts do not apply to a session.
	_ = ws.UnderlyingConn().SetDeadline(time.Time{})
	ws.SetReadLimit(s.limits.MaxMessageBytes)
	raw := rawTransport{ws: ws, bc: hw.conn, writeTimeout: s.limits.WriteTimeout, direct: !offersDeflate(r.Header)}
	var t transport = &raw
	if sockjs {
		st := &sockjsTransport{rawTransport: raw}
		if err := st.open(); err != nil {
			_ = ws.Close()
			return
		}
		t = st
	}
	c := newConn(s, t, s.log)
	c.client = s.cfg.Guard.ClientIP(r)
	if !s.startConn(c) {
		_ = ws.Close()
	}
}

// startConn registers a new connection, greets it and starts its reader;
// false when the server is closing.
func (s *Server) startConn(c *conn) bool {
	s.connMu.Lock()
	select {
	case <-s.quit:
		s.connMu.Unlock()
		return false
	default:
	}
	s.conns[c] = struct{}{}
	s.connMu.Unlock()
	s.stats.opened.Add(1)
	// Meteor servers greet with their server id; clients ignore it.
	c.send([]byte(`{"server_id":"0"}`))
	// The session reads on its own goroutine, so that the HTTP handler's
	// deep stack is released (a hijacked connection is no longer the HTTP
	// server's): an idle session keeps only a small stack.
	s.writers.Add(1)
	go func() {
		defer s.writers.Done()
		s.session(c)
	}()
	return true
}

// session reads the connection's messages until it ends, then forgets it.
func (s *Server) session(c *conn) {
	err := c.readLoop()
	if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
		!errors.Is(err, errClosed) {
		s.log.Debug("ddp: connection ended", "session", c.session, "err", err)
	}
	c.close(errors.Is(err, errSockJSFrame))
	s.connMu.Lock()
	delete(s.conns, c)
	s.connMu.Unlock()
	s.run(func() { s.dropConn(c) }, false)
}

// ctx is the context of store calls made for a connection.
func (s *Server) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
