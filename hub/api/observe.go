package api

import (
	"net/http"
	"time"
)

// RequestObserver is told of every request the API's routes serve: the
// route's pattern (e.g. "/api/v2/{layer}/{collection}", never the raw path,
// so the number of distinct values stays bounded), the method, the status
// written and the time taken. The hub's metrics implement it.
type RequestObserver interface {
	ObserveRequest(method, route string, status int, d time.Duration)
}

// RouteUnmatched is the route reported for requests no route matched.
const RouteUnmatched = "unmatched"

// observe reports each request served by h under route to s.Requests.
// method is the route's method; for routes that take any method (health)
// the request's method is reported when it is a standard one.
func (s *Server) observe(method, route string, h http.Handler) http.Handler {
	if s.Requests == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m := method
			if m == "" {
				m = standardMethod(r.Method)
			}
			s.Requests.ObserveRequest(m, route, sw.code(), time.Since(start))
		}()
		h.ServeHTTP(sw, r)
	})
}

// standardMethod bounds the method label: anything unusual is "other".
func standardMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// statusWriter remembers the status written. Unwrap lets
// http.ResponseController reach the connection's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes a flush on (streamed history and CSV).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
