package weather

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gridedge/gridedge/hub/auth"
)

// Grant is the grant key of the weather routes ({"weather": "read"});
// admins have it.
const Grant = "weather"

// Paths of the seed's REST API (3.2.1.1), served on the hub's HTTP port.
const (
	PathCurrent  = "/api/v1/weather"
	PathForecast = "/api/v1/weatherforecast"
)

// StaleHeader carries, on an answer from the last good data, why the
// provider could not give a fresh one.
const StaleHeader = "X-Weather-Stale"

// Authenticator checks a request's credentials; *auth.Service is one.
type Authenticator interface {
	Authenticate(ctx context.Context, id, secret string) (*auth.Principal, error)
}

var _ Authenticator = (*auth.Service)(nil)

// errForbidden is returned when the principal lacks the weather grant.
var errForbidden = errors.New("forbidden")

// Handler serves
//
//	GET /api/v1/weather?cityName=…&(lat&lon | city[&country] | postalCode&country)          → Current
//	GET /api/v1/weatherforecast?cityName=…&(…)[&hours=1..48]                                → [Forecast]
//
// with the hub's credentials (X-User-ID/X-Auth-Token or appId/keyId) and
// the weather read grant. The body is the seed's message; errors are
// {"status":"error","message"}: 400 for a bad query, 404 for an unknown
// place, 502 when the provider fails and nothing good is known yet. An
// answer from the last good data has "stale": true and StaleHeader.
func (s *Service) Handler(a Authenticator) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, forecast bool) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := authorize(a, r); err != nil {
				writeErr(w, err)
				return
			}
			q, hours, err := ParseQuery(r.URL.Query(), forecast)
			if err != nil {
				writeErr(w, err)
				return
			}
			var body any
			var why string
			if forecast {
				body, why, err = s.Forecast(r.Context(), q, hours)
			} else {
				body, why, err = s.Current(r.Context(), q)
			}
			if err != nil {
				writeErr(w, err)
				return
			}
			if why != "" {
				w.Header().Set(StaleHeader, strconv.Quote(why))
			}
			writeJSON(w, http.StatusOK, body)
		})
	}
	handle("GET "+PathCurrent, false)
	handle("GET "+PathForecast, true)
	for _, p := range []string{PathCurrent, PathForecast} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody(fmt.Sprintf("%s %s: only GET", r.Method, r.URL.Path)))
		})
	}
	return mux
}

// Mount serves the weather paths with s and everything else with next.
func (s *Service) Mount(next http.Handler, a Authenticator) http.Handler {
	h := s.Handler(a)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathCurrent || r.URL.Path == PathForecast {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func authorize(a Authenticator, r *http.Request) error {
	id, secret := r.Header.Get("X-User-ID"), r.Header.Get("X-Auth-Token")
	if id == "" && secret == "" {
		q := r.URL.Query()
		id, secret = q.Get("appId"), q.Get("keyId")
	}
	p, err := a.Authenticate(r.Context(), id, secret)
	if err != nil {
		return err
	}
	if !p.Authenticated() {
		return fmt.Errorf("%w: credentials required: send X-User-ID and X-Auth-Token (from /api/v2/login), or appId and keyId", auth.ErrUnauthorized)
	}
	if !p.Admin && !p.Can(Grant, auth.Read) {
		return fmt.Errorf("%w: %s %q needs the grant {%q: %q}", errForbidden, p.Kind, p.ID, Grant, auth.Read.String())
	}
	return nil
}

func errorBody(msg string) map[string]string {
	return map[string]string{"status": "error", "message": msg}
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		status = http.StatusUnauthorized
	case errors.Is(err, errForbidden), errors.Is(err, auth.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrProvider):
		status = http.StatusBadGateway
	}
	writeJSON(w, status, errorBody(err.Error()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
