// Package api serves the hub's REST API v2 (seed 000, section 3.3.1 and its
// OpenAPI annex): the same paths, request bodies and response shapes as the
// X-FLEX platform, so that tools written for it work unchanged. Successful
// responses are {"status":"success","data":…}; errors are
// {"status":"error","message":…} with the matching HTTP status.
//
// Every route is declared once, in the table of routes.go; the router and
// the OpenAPI 3 document served at /api/v2/openapi.json are both built from
// that table. Requests are authenticated by hub/auth (headers X-User-ID and
// X-Auth-Token, or query parameters appId and keyId), rate limited per
// credential and bounded in size. See docs/api.md.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/fleet"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// Prefix is the path every API route lives under.
const Prefix = "/api/v2"

// Gateway is what POST /gateway needs at run time to forward a request or
// message to a NATS microservice with the caller's NATS credentials; its
// timeout is configured in Config.Gateway.
type Gateway struct {
	// Domain is prefixed to the subject the caller gives.
	Domain string
	// Dial connects to NATS with the caller's credentials (nats.UserInfo,
	// nats.Token or nats.UserJWTAndSeed options); nil disables the gateway (503).
	Dial func(ctx context.Context, opts ...nats.Option) (*nats.Conn, error)
}

// Server serves the API. Set the fields, then call Handler once.
type Server struct {
	// Store is the hub store.
	Store store.Store
	// Auth authenticates requests and manages users and apps.
	Auth *auth.Service
	// Version is reported by /health.
	Version string
	// Logger receives request errors (default slog.Default()).
	Logger *slog.Logger
	// Config is the API's configuration: limits, rate limits, notify and
	// gateway settings. Handler fills unset fields with their defaults
	// (Config.Defaults); the caller validates it first.
	Config Config
	// HTTPClient makes outgoing requests (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Gateway connects POST /gateway to NATS.
	Gateway Gateway
	// History serves /history (nil: the routes answer 404).
	History history.Store
	// Converters serves POST /converters/{id}/test (nil: it answers 404).
	Converters Converters
	// Fleet sends map control requests to edges for /fleet (nil: those
	// routes answer 503).
	Fleet *fleet.Control
	// Incidents is the incidents service's collection, whose status
	// changes PATCH checks (zero: none; incidents.go).
	Incidents IncidentsCollection
	// Requests, when set, is told of every request (route pattern, method,
	// status, duration): the hub's metrics.
	Requests RequestObserver

	// now is the clock of throttles (default time.Now); tests set a fake one.
	now func() time.Time

	once     sync.Once
	limiter  *limiter
	throttle *throttle
	// mailLimiter caps /notify/email per principal (notify.smtp.perHour).
	mailLimiter *limiter
	proxies     []netip.Prefix
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) init() {
	s.once.Do(func() {
		s.Config.Defaults()
		// Validate rejects a default page larger than the maximum; a Server
		// configured in code gets the maximum instead.
		s.Config.HTTP.DefaultLimit = min(s.Config.HTTP.DefaultLimit, s.Config.HTTP.MaxLimit)
		if s.HTTPClient == nil {
			s.HTTPClient = &http.Client{Timeout: 30 * time.Second}
		}
		s.limiter = newLimiter(s.Config.HTTP.RateLimit, time.Now)
		s.throttle = newThrottle(s.Config.Auth.LoginThrottle)
		perHour := s.Config.Notify.SMTP.PerHour
		s.mailLimiter = newLimiter(RateLimitConfig{PerSecond: float64(perHour) / 3600, Burst: perHour}, time.Now)
		// Validate rejects bad entries; a Server configured in code skips them.
		for _, v := range s.Config.HTTP.TrustedProxies {
			if ps, err := parseProxies([]string{v}); err == nil {
				s.proxies = append(s.proxies, ps...)
			} else {
				s.log().Error("api: ignoring a trusted proxy", "err", err)
			}
		}
	})
}

// Handler returns the API's HTTP handler, serving every path under /api/v2/.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	// /history/{layer}/{collection}/{id} and /{layer}/{collection}/field/{field}
	// overlap without either being more specific, which one ServeMux refuses:
	// the history routes get their own ("history" is a reserved layer name),
	// as do the fleet routes (/fleet/edges/{edge}/map against
	// /{layer}/{collection}/field/{field})
	hist := http.NewServeMux()
	for _, rt := range s.routes() {
		m := mux
		if ownMux(rt.path) {
			m = hist
		}
		m.Handle(rt.pattern(), s.observe(rt.method, Prefix+rt.path, s.wrap(rt)))
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such API path: %s %s", r.Method, r.URL.Path))
	}
	mux.Handle(Prefix+"/", s.observe("", RouteUnmatched, http.HandlerFunc(notFound)))
	hist.Handle(Prefix+historyPrefix, s.observe("", RouteUnmatched, http.HandlerFunc(notFound)))
	hist.Handle(Prefix+fleetPrefix, s.observe("", RouteUnmatched, http.HandlerFunc(notFound)))
	return &router{main: mux, history: hist}
}

// ownMux reports whether an API path (relative to Prefix) is served by the
// history ServeMux: the history and fleet paths.
func ownMux(path string) bool {
	return strings.HasPrefix(path, historyPrefix) || strings.HasPrefix(path, fleetPrefix)
}

// router sends the history and fleet paths to their own ServeMux and the
// others to the main one.
type router struct{ main, history *http.ServeMux }

func (rt *router) mux(r *http.Request) *http.ServeMux {
	if p, ok := strings.CutPrefix(r.URL.Path, Prefix); ok && ownMux(p) {
		return rt.history
	}
	return rt.main
}

// ServeHTTP serves a request with its ServeMux.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux(r).ServeHTTP(w, r) }

// Handler returns the handler and pattern that serve r (as ServeMux.Handler).
func (rt *router) Handler(r *http.Request) (http.Handler, string) { return rt.mux(r).Handler(r) }

// handlerFunc serves one route for an authenticated (or anonymous) principal.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// wrap adds, in order: panic recovery, the body limit, authentication,
// the access check of the route, and rate limiting.
func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log().Error("api: panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "internal error; see the hub log")
			}
		}()
		limit := s.Config.HTTP.MaxBodyBytes
		if rt.upload {
			limit = s.Config.HTTP.MaxUploadBytes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		p, err := s.authenticate(r)
		if err != nil && !s.limiter.allow("addr:"+s.clientIP(r)) {
			// Failed authentications count against the client's address.
			err = httpErrorf(http.StatusTooManyRequests, "rate limit exceeded for this client address; retry later")
			w.Header().Set("Retry-After", strconv.Itoa(s.limiter.retryAfter()))
		}
		if err == nil && !s.limiter.allow(s.rateKey(p, r)) {
			w.Header().Set("Retry-After", strconv.Itoa(s.limiter.retryAfter()))
			err = httpErrorf(http.StatusTooManyRequests, "rate limit exceeded for %s; retry later", describe(p))
		}
		if err == nil {
			err = rt.access.check(p)
		}
		if err == nil {
			err = rt.h(w, r, p)
		}
		if err != nil {
			s.writeErr(w, r, err)
		}
	})
}

func describe(p *auth.Principal) string {
	if !p.Authenticated() {
		return "this client address"
	}
	return fmt.Sprintf("%s %q", p.Kind, p.ID)
}

func (s *Server) rateKey(p *auth.Principal, r *http.Request) string {
	if p.Authenticated() {
		return p.RateKey()
	}
	return "addr:" + s.clientIP(r)
}

// credentials returns the id and secret of a request: headers X-User-ID
// and X-Auth-Token, else query parameters appId and keyId (seed 3.3.1.3).
func credentials(r *http.Request) (id, secret string) {
	id, secret = r.Header.Get("X-User-ID"), r.Header.Get("X-Auth-Token")
	if id == "" && secret == "" {
		q := r.URL.Query()
		id, secret = q.Get("appId"), q.Get("keyId")
	}
	return id, secret
}

func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	id, secret := credentials(r)
	p, err := s.Auth.Authenticate(r.Context(), id, secret)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// access is who may call a route at all; per-layer checks come later.
type access int

const (
	// open routes need no credentials (health, login, the OpenAPI document).
	open access = iota
	// authenticated routes need valid credentials, or grants for anonymous
	// requests in the route's own check.
	authenticated
	// loggedIn routes need valid user or app credentials.
	loggedIn
	// adminOnly routes need an admin.
	adminOnly
)

func (a access) check(p *auth.Principal) error {
	switch a {
	case loggedIn:
		if !p.Authenticated() {
			return errCredentials
		}
	case adminOnly:
		if !p.Authenticated() {
			return errCredentials
		}
		if !p.Admin {
			return httpErrorf(http.StatusForbidden, "only admins may do this")
		}
	}
	return nil
}

var errCredentials = httpErrorf(http.StatusUnauthorized,
	"credentials required: send X-User-ID and X-Auth-Token headers (from /api/v2/login), or appId and keyId query parameters")

// httpError is an error with its HTTP status.
type httpError struct {
	status int
	msg    string
	// retryAfter, in seconds, is sent as Retry-After when positive.
	retryAfter int
}

func (e *httpError) Error() string { return e.msg }

func httpErrorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, auth.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound), errors.Is(err, auth.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict), errors.Is(err, auth.ErrExists):
		return http.StatusConflict
	case errors.Is(err, store.ErrInvalid), errors.Is(err, auth.ErrInvalid),
		errors.Is(err, query.ErrBadSelector), errors.Is(err, query.ErrBadSort),
		errors.Is(err, query.ErrBadProjection), errors.Is(err, query.ErrBadUpdate):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := err.Error()
	if he := (*httpError)(nil); errors.As(err, &he) && he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(he.retryAfter))
	}
	switch status {
	case http.StatusInternalServerError:
		s.log().Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error; see the hub log"
	case http.StatusRequestEntityTooLarge:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			msg = fmt.Sprintf("request body larger than %d bytes", mbe.Limit)
		}
	case http.StatusUnauthorized:
		if errors.Is(err, auth.ErrUnauthorized) {
			msg = "unauthorized: " + strings.TrimPrefix(msg, "unauthorized: ")
		}
	}
	writeError(w, status, msg)
}

// envelope is the API's answer, fields in the seed's order.
type envelope struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	Data    any    `json:"data,omitempty"`
}

// ordered is a JSON object that keeps its keys in the given order (the
// seed's order: ok, insertedIds, err, errorIds).
type ordered []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the pairs in order.
func (o ordered) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, p := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(p.k)
		v, err := json.Marshal(p.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, envelope{Status: "error", Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// success writes {"status":"success", "data": data} (data omitted when nil)
// with an optional message.
func success(w http.ResponseWriter, message string, data any) error {
	writeJSON(w, http.StatusOK, envelope{Status: "success", Message: message, Data: data})
	return nil
}

// readJSON decodes the request body into v; a bad body is a 400 saying why.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return httpErrorf(http.StatusBadRequest, "request body is empty; want JSON")
		}
		return httpErrorf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return httpErrorf(http.StatusBadRequest, "invalid JSON body: data after the first value")
	}
	return nil
}
