// Package console serves the hub's web console: a browser UI for operators
// (layers and collections, live documents over DDP, history charts, the
// fleet) embedded in the binary and served on the REST port under
// /console/, same origin as /api/v2 and /websocket. The UI is plain ES
// modules with no build step; its third-party libraries are vendored from
// npm by `make ui` (web/package.json and package-lock.json) into ui/vendor/.
// See docs/console.md.
package console

import (
	"net/http"
	"strings"
)

// Path is where the console is served.
const Path = "/console/"

// Config is the hub config's console section.
type Config struct {
	// Enabled serves the console under /console/ on the HTTP port, and
	// redirects / there (default true).
	Enabled *bool `json:"enabled,omitempty"`
}

// On reports whether the console is served.
func (c Config) On() bool { return c.Enabled == nil || *c.Enabled }

// Mount serves the console's paths (/console/…, and / redirecting to
// /console/) and passes every other request to next.
func Mount(next http.Handler) http.Handler {
	h := Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, Path, http.StatusFound)
		case r.URL.Path == strings.TrimSuffix(Path, "/") || strings.HasPrefix(r.URL.Path, Path):
			h.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
