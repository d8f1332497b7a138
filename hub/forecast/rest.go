package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
)

// Grant is the grant key of the forecast service: read allows GET of a
// model, write everything else ({"forecast": "write"}); admins have both.
const Grant = "forecast"

// PathPrefix is where the REST interface is mounted (the hub's /api/v2
// followed by the seed's /forecast paths).
const PathPrefix = "/api/v2/forecast"

// Authenticator checks a request's credentials; *auth.Service is one.
type Authenticator interface {
	Authenticate(ctx context.Context, id, secret string) (*auth.Principal, error)
}

var _ Authenticator = (*auth.Service)(nil)

// maxBody bounds request bodies.
const maxBody = 4 << 20

// Handler serves the seed's REST interface under PathPrefix:
//
//	POST   /model               MODEL_PARAMS → MODEL_DESCRIPTION
//	GET    /model?status=&skip=&limit= → {models: [MODEL_DESCRIPTION], total, skip, limit}
//	GET    /model/{id}          → MODEL_DESCRIPTION
//	DELETE /model/{id}          → MODEL_CONFIRMATION
//	POST   /model/{id}/train    TRAIN_PARAMS (optional) → MODEL_DESCRIPTION (status training)
//	POST   /model/{id}/forecast FORECAST_PARAMS → FORECAST_RESULT
//
// with the hub's credentials (X-User-ID/X-Auth-Token or appId/keyId) and
// the forecast grant.
func (s *Service) Handler(a Authenticator) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, need auth.Perm, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := s.authorize(a, r, need); err != nil {
				writeErr(w, err)
				return
			}
			if err := h(w, r); err != nil {
				writeErr(w, err)
			}
		})
	}
	handle("POST "+PathPrefix+"/model", auth.Write, func(w http.ResponseWriter, r *http.Request) error {
		var p ModelParams
		if err := decode(r, &p, false); err != nil {
			return err
		}
		d, err := s.Create(p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
	handle("GET "+PathPrefix+"/model", auth.Read, func(w http.ResponseWriter, r *http.Request) error {
		p, err := listParams(r.URL.Query())
		if err != nil {
			return err
		}
		l, err := s.List(p)
		if err != nil {
			return err
		}
		if l.Skip+len(l.Models) < l.Total {
			q := r.URL.Query()
			q.Set("skip", strconv.Itoa(l.Skip+len(l.Models)))
			q.Set("limit", strconv.Itoa(l.Limit))
			next := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next.String()))
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(l.Total))
		writeJSON(w, http.StatusOK, l)
		return nil
	})
	handle("GET "+PathPrefix+"/model/{id}", auth.Read, func(w http.ResponseWriter, r *http.Request) error {
		d, err := s.Get(r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
	handle("DELETE "+PathPrefix+"/model/{id}", auth.Write, func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := s.Delete(id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ModelConfirmation{ID: id, Status: "ok"})
		return nil
	})
	handle("POST "+PathPrefix+"/model/{id}/train", auth.Write, func(w http.ResponseWriter, r *http.Request) error {
		var p TrainParams
		if err := decode(r, &p, true); err != nil {
			return err
		}
		d, err := s.Train(r.PathValue("id"), p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
	handle("POST "+PathPrefix+"/model/{id}/forecast", auth.Write, func(w http.ResponseWriter, r *http.Request) error {
		var p ForecastParams
		if err := decode(r, &p, false); err != nil {
			return err
		}
		rows, err := s.Forecast(r.Context(), r.PathValue("id"), p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, rows)
		return nil
	})
	mux.HandleFunc(PathPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody(fmt.Sprintf("no such API path: %s %s", r.Method, r.URL.Path)))
	})
	return mux
}

// Mount serves the forecast paths with h and everything else with next.
func (s *Service) Mount(next http.Handler, a Authenticator) http.Handler {
	h := s.Handler(a)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathPrefix || strings.HasPrefix(r.URL.Path, PathPrefix+"/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errForbidden is returned when the principal lacks the forecast grant.
var errForbidden = errors.New("forbidden")

func (s *Service) authorize(a Authenticator, r *http.Request, need auth.Perm) error {
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
	if !p.Admin && !p.Can(Grant, need) {
		return fmt.Errorf("%w: %s %q needs the grant {%q: %q}", errForbidden, p.Kind, p.ID, Grant, need.String())
	}
	return nil
}

// listParams reads status, skip and limit; a bad number is ErrInvalid
// naming the parameter.
func listParams(q url.Values) (ListParams, error) {
	p := ListParams{Status: q.Get("status")}
	for _, f := range []struct {
		name string
		v    *int
	}{{"skip", &p.Skip}, {"limit", &p.Limit}} {
		if s := q.Get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return p, fmt.Errorf("%w: %s=%q is not an integer", ErrInvalid, f.name, s)
			}
			*f.v = n
		}
	}
	return p, nil
}

func decode(r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if optional && errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	return nil
}

func errorBody(msg string) map[string]string {
	return map[string]string{"status": "error", "message": msg}
}

func writeErr(w http.ResponseWriter, err error) {
	status := errStatus(err)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		status = http.StatusUnauthorized
	case errors.Is(err, errForbidden), errors.Is(err, auth.ErrForbidden):
		status = http.StatusForbidden
	case errors.As(err, &mbe):
		status = http.StatusRequestEntityTooLarge
	}
	writeJSON(w, status, errorBody(err.Error()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
