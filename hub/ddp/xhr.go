// SockJS's HTTP transports for browser clients that cannot or will not use
// a WebSocket: xhr-streaming (POST .../xhr_streaming, one long response of
// newline-terminated frames), xhr-polling (POST .../xhr, one frame per
// response) and xhr_send (POST .../xhr_send, the client's messages). A
// session lives across requests, keyed by the session id of the URL
// (/sockjs/<server>/<session>/<transport>), and is the same DDP connection
// as over a WebSocket: merge box, limits, throttle.

package ddp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SockJS protocol constants (the reference server's defaults).
const (
	// sockjsResponseLimit: an xhr_streaming response ends after this many
	// bytes, and the client opens the next one (browsers keep a streamed
	// response's body in memory).
	sockjsResponseLimit = 128 << 10
	// sockjsSendQueue bounds the xhr_send batches waiting for the session's
	// reader.
	sockjsSendQueue = 16
)

var (
	frameOpen       = []byte("o\n")
	frameHeartbeat  = []byte("h\n")
	frameGoAway     = []byte(`c[3000,"Go away!"]` + "\n")
	frameStillOpen  = []byte(`c[2010,"Another connection still open"]` + "\n")
	streamingPrelud = append(bytes.Repeat([]byte{'h'}, 2048), '\n')
)

// errNoReceiver: nobody polled for a session's frames in time.
var errNoReceiver = errors.New("sockjs: no receiving request took the frames in time")

// xhrTransport is one SockJS session over HTTP requests. The connection's
// writer hands each batch, as an a[...] frame, to the request receiving at
// the time (waiting up to the write timeout for the next poll); xhr_send
// requests hand the client's messages to the connection's reader.
type xhrTransport struct {
	srv          *Server
	id           string
	writeTimeout time.Duration

	in   chan [][]byte // client messages, from xhr_send
	out  chan []byte   // frames, to the receiving request
	done chan struct{} // closed when the session ends
	once sync.Once

	mu        sync.Mutex
	receiving bool      // a receiving request is attached
	lastSeen  time.Time // when the last receiving request ended
	endedAt   time.Time // when the session ended (zero while open)
}

func (t *xhrTransport) read() ([][]byte, error) {
	select {
	case msgs := <-t.in:
		return msgs, nil
	case <-t.done:
		return nil, errClosed
	}
}

func (t *xhrTransport) write(msgs [][]byte) error { return t.hand(sockjsFrame(msgs)) }

func (t *xhrTransport) heartbeat() error { return nil } // the receiving request sends h when idle

// hand gives a frame to the receiving request.
func (t *xhrTransport) hand(frame []byte) error {
	timer := time.NewTimer(t.writeTimeout)
	defer timer.Stop()
	select {
	case t.out <- frame:
		return nil
	case <-t.done:
		return errClosed
	case <-timer.C:
		return errNoReceiver
	}
}

func (t *xhrTransport) close() { t.end() } // the receiving request answers c[3000,…]

func (t *xhrTransport) kill() { t.end() }

func (t *xhrTransport) end() {
	t.once.Do(func() {
		t.mu.Lock()
		t.endedAt = t.srv.now()
		t.mu.Unlock()
		close(t.done)
	})
}

func (t *xhrTransport) ended() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// attach makes the caller the session's receiving request; false when
// another one is attached.
func (t *xhrTransport) attach() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.receiving {
		return false
	}
	t.receiving = true
	return true
}

func (t *xhrTransport) detach() {
	t.mu.Lock()
	t.receiving = false
	t.lastSeen = t.srv.now()
	t.mu.Unlock()
}

// expired reports whether the session should be closed (no receiving
// request for the disconnect delay) or forgotten (ended that long ago).
func (t *xhrTransport) expired(now time.Time) (closeIt, forget bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.endedAt.IsZero() {
		return false, now.Sub(t.endedAt) >= t.srv.limits.DisconnectDelay
	}
	return !t.receiving && now.Sub(t.lastSeen) >= t.srv.limits.DisconnectDelay, false
}

// sockjsFrame is a[...] with the messages as JSON strings.
func sockjsFrame(msgs [][]byte) []byte {
	size := 3
	for _, m := range msgs {
		size += len(m) + len(m)/8 + 3
	}
	frame := make([]byte, 0, size)
	frame = append(frame, 'a', '[')
	for i, m := range msgs {
		if i > 0 {
			frame = append(frame, ',')
		}
		frame = appendString(frame, string(m))
	}
	return append(frame, ']')
}

// sockjsHeaders sets SockJS's CORS and caching headers; it reports whether
// the request was a CORS preflight (answered).
func sockjsHeaders(w http.ResponseWriter, r *http.Request, methods string) bool {
	h := w.Header()
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Max-Age", "31536000")
		h.Set("Cache-Control", "public, max-age=31536000")
		h.Set("Expires", time.Now().Add(365*24*time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	return false
}

// validSockJSPath checks the server and session parts of a SockJS URL:
// non-empty and without dots.
func validSockJSPath(r *http.Request) (session string, ok bool) {
	server, session := r.PathValue("server"), r.PathValue("session")
	if server == "" || session == "" || strings.Contains(server, ".") || strings.Contains(session, ".") {
		return "", false
	}
	return session, true
}

// xhrSession returns the open or recently ended session id, creating it
// when create is set and it does not exist (created reports that).
func (s *Server) xhrSession(id string, r *http.Request, create bool) (t *xhrTransport, created bool) {
	s.xhrMu.Lock()
	defer s.xhrMu.Unlock()
	if t = s.xhr[id]; t != nil || !create {
		return t, false
	}
	if len(s.xhr) >= s.limits.MaxHTTPSessions {
		s.log.Warn("ddp: too many SockJS HTTP sessions; refusing a new one", "max", s.limits.MaxHTTPSessions)
		return nil, false
	}
	t = &xhrTransport{srv: s, id: id, writeTimeout: s.limits.WriteTimeout,
		in: make(chan [][]byte, sockjsSendQueue), out: make(chan []byte), done: make(chan struct{}),
		lastSeen: s.now()}
	c := newConn(s, t, s.log)
	c.client = s.cfg.Guard.ClientIP(r)
	if !s.startConn(c) {
		return nil, false
	}
	s.xhr[id] = t
	return t, true
}

// serveXHR answers xhr (polling: one frame per response) and
// xhr_streaming (frames until the response limit).
func (s *Server) serveXHR(w http.ResponseWriter, r *http.Request, streaming bool) {
	if sockjsHeaders(w, r, "OPTIONS, POST") {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id, ok := validSockJSPath(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/javascript; charset=UTF-8")
	rc := http.NewResponseController(w)
	// A receiving request lasts up to a heartbeat (polling) or as long as
	// the stream: the HTTP server's write timeout does not apply.
	_ = rc.SetWriteDeadline(time.Time{})
	t, created := s.xhrSession(id, r, true)
	if t == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many SockJS sessions, or the server is shutting down; retry later", http.StatusServiceUnavailable)
		return
	}
	written := 0
	emit := func(b []byte) bool {
		n, err := w.Write(b)
		written += n
		return err == nil && rc.Flush() == nil
	}
	if streaming {
		w.WriteHeader(http.StatusOK)
		if !emit(streamingPrelud) {
			return
		}
	}
	if created {
		if !emit(frameOpen) || !streaming {
			return
		}
	}
	if t.ended() {
		emit(frameGoAway)
		return
	}
	if !t.attach() {
		emit(frameStillOpen)
		return
	}
	defer t.detach()
	beat := time.NewTimer(sockjsHeartbeat)
	defer beat.Stop()
	for {
		select {
		case frame := <-t.out:
			if !emit(append(frame, '\n')) {
				// The frames are lost with the response: SockJS cannot
				// replay them, so the session ends.
				t.kill()
				return
			}
			if !streaming || written >= sockjsResponseLimit {
				return
			}
		case <-t.done:
			emit(frameGoAway)
			return
		case <-beat.C:
			if !emit(frameHeartbeat) || !streaming {
				return
			}
		case <-r.Context().Done():
			return
		}
		beat.Reset(sockjsHeartbeat)
	}
}

// serveXHRSend takes the client's messages: a JSON array of strings.
func (s *Server) serveXHRSend(w http.ResponseWriter, r *http.Request) {
	if sockjsHeaders(w, r, "OPTIONS, POST") {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id, ok := validSockJSPath(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	t, _ := s.xhrSession(id, r, false)
	if t == nil || t.ended() {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.limits.MaxMessageBytes))
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	if err != nil {
		http.Error(w, "the payload is larger than the limit or broken", http.StatusRequestEntityTooLarge)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		http.Error(w, "Payload expected.", http.StatusInternalServerError)
		return
	}
	var arr []string
	if err := json.Unmarshal(body, &arr); err != nil {
		http.Error(w, "Broken JSON encoding.", http.StatusInternalServerError)
		return
	}
	msgs := make([][]byte, len(arr))
	for i, m := range arr {
		msgs[i] = []byte(m)
	}
	select {
	case t.in <- msgs:
		w.WriteHeader(http.StatusNoContent)
	case <-t.done:
		http.NotFound(w, r)
	case <-r.Context().Done():
	}
}

// reapXHR closes sessions nobody polls and forgets ended ones; called by
// the heartbeat loop.
func (s *Server) reapXHR(now time.Time) {
	s.xhrMu.Lock()
	defer s.xhrMu.Unlock()
	for id, t := range s.xhr {
		closeIt, forget := t.expired(now)
		if closeIt {
			t.kill()
		}
		if forget {
			delete(s.xhr, id)
		}
	}
}
