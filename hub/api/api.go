// Package api serves the hub's REST API v2 (seed 000, section 3.3.1): the
// same paths, request bodies and response shapes as the X-FLEX platform.
// Successful responses are {"status":"success","data":…}; errors are
// {"status":"error","message":…} with the matching HTTP status.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gridedge/gridedge/hub/store"
)

// Limits of collection queries.
const (
	// DefaultLimit is the page size when the request gives no limit.
	DefaultLimit = 1000
	// MaxLimit is the largest page a request may ask for.
	MaxLimit = 10000
)

// Server serves the API.
type Server struct {
	// Store is the hub store.
	Store store.Store
	// Version is reported by /health.
	Version string
	// Logger receives request errors.
	Logger *slog.Logger
}

// Handler returns the API's HTTP handler, mounted at /api/v2/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/health", s.health)
	mux.HandleFunc("GET /api/v2/{layer}/{col}", s.findDocuments)
	mux.HandleFunc("GET /api/v2/{layer}/{col}/{id}", s.getDocument)
	mux.HandleFunc("/api/v2/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such API path: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// health answers any method, as the seed says.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": s.Version})
}

func (s *Server) findDocuments(w http.ResponseWriter, r *http.Request) {
	layer, col := r.PathValue("layer"), r.PathValue("col")
	limit, err := intParam(r, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	skip, err := intParam(r, "skip", 0, 0, 1<<31-1)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	docs, err := s.Store.Find(r.Context(), layer, col, store.FindOptions{Skip: skip, Limit: limit})
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": docs})
}

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) {
	doc, err := s.Store.Get(r.Context(), r.PathValue("layer"), r.PathValue("col"), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": doc})
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("query parameter %s=%q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// storeError maps store errors to HTTP statuses.
func (s *Server) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		s.log().Error("api: store error", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error; see the hub log")
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": "error", "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
