package metrics

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gridedge/gridedge/hub/auth"
)

// Authenticator checks a user's or an application's credentials (hub/auth).
type Authenticator interface {
	Authenticate(ctx context.Context, id, secret string) (*auth.Principal, error)
}

var _ Authenticator = (*auth.Service)(nil)

// guard serves the exposition to those the config lets in.
type guard struct {
	cfg  Config
	auth Authenticator
	next http.Handler
}

// Handler serves the registry at /metrics with the access rule of cfg:
//   - public: anyone;
//   - otherwise an admin's credentials (X-User-ID and X-Auth-Token, as the
//     REST API), or the scrape token as "Authorization: Bearer <token>" or
//     as the basic-auth password of cfg.ScrapeUser.
//
// Anything else is answered 401 with a WWW-Authenticate challenge, or 403
// for valid credentials of a user who is not an admin.
func (m *Metrics) Handler(cfg Config, a Authenticator) http.Handler {
	cfg.Defaults()
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return &guard{cfg: cfg, auth: a, next: h}
}

// Mount serves Path with Handler and everything else with next.
func (m *Metrics) Mount(next http.Handler, cfg Config, a Authenticator) http.Handler {
	h := m.Handler(cfg, a)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Path {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP checks access, then serves the exposition.
func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "metrics: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	if status, msg := g.check(r); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gridedge metrics", Basic realm="gridedge metrics"`)
		}
		http.Error(w, msg, status)
		return
	}
	g.next.ServeHTTP(w, r)
}

// check returns 0 when r may read the metrics, else the status and why.
func (g *guard) check(r *http.Request) (int, string) {
	if g.cfg.Public {
		return 0, ""
	}
	if tok := g.cfg.ScrapeToken; tok != "" {
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if equal(strings.TrimSpace(bearer), tok) {
				return 0, ""
			}
			return http.StatusUnauthorized, "metrics: wrong scrape token"
		}
		if user, pass, ok := r.BasicAuth(); ok {
			if equal(user, g.cfg.ScrapeUser) && equal(pass, tok) {
				return 0, ""
			}
			return http.StatusUnauthorized, "metrics: wrong scrape user or token"
		}
	}
	id, secret := r.Header.Get("X-User-ID"), r.Header.Get("X-Auth-Token")
	if id == "" || secret == "" || g.auth == nil {
		return http.StatusUnauthorized, "metrics: credentials required: an admin's X-User-ID and X-Auth-Token, or the scrape token (metrics.scrapeToken)"
	}
	p, err := g.auth.Authenticate(r.Context(), id, secret)
	if err != nil || !p.Authenticated() {
		return http.StatusUnauthorized, "metrics: invalid credentials"
	}
	if !p.Admin {
		return http.StatusForbidden, "metrics: only admins (or the scrape token) may read the metrics"
	}
	return 0, ""
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
