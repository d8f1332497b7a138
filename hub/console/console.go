// Package console serves the hub's web console: a browser UI for operators
// (layers and collections, live documents over DDP, history charts, the
// fleet) embedded in the binary and served on the REST port under
// /console/, same origin as /api/v2 and /websocket. The UI is plain ES
// modules with no build step; its third-party libraries are vendored from
// npm by `make ui` (web/package.json and package-lock.json) into ui/vendor/.
// See docs/console.md.
package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/gridedge/gridedge/shared/config"
)

// Path is where the console is served.
const Path = "/console/"

// Config is the hub config's console section.
type Config struct {
	// Enabled serves the console under /console/ on the HTTP port, and
	// redirects / there (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// Map configures the map page's base layer.
	Map MapConfig `json:"map,omitempty"`
}

// MapConfig is the map page's base layer. Without Tiles the map shows the
// documents' geometries on a plain background (nothing is fetched from
// elsewhere).
type MapConfig struct {
	// Tiles is a tile URL template with {z}, {x} and {y} (and optionally
	// {s}), either absolute (https://tiles.example/{z}/{x}/{y}.png: its
	// origin is added to the console's CSP img-src) or a path on the hub's
	// own origin (/tiles/{z}/{x}/{y}.png, behind a reverse proxy).
	Tiles string `json:"tiles,omitempty"`
	// Attribution is shown in the map's corner (the tile provider's terms
	// usually require it).
	Attribution string `json:"attribution,omitempty"`
	// MaxZoom is the deepest zoom level the tiles have (default 19).
	MaxZoom int `json:"maxZoom,omitempty"`
}

// On reports whether the console is served.
func (c Config) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate adds the section's errors to es, under prefix (e.g. "console").
func (c *Config) Validate(prefix string, es *config.Errors) {
	t := c.Map.Tiles
	if t == "" {
		return
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(t, p) {
			es.Add(config.Join(prefix, "map.tiles"), "%q has no %s: want a tile URL template such as https://tiles.example/{z}/{x}/{y}.png", t, p)
			return
		}
	}
	if strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "//") {
		return
	}
	if u, err := url.Parse(strings.NewReplacer("{s}", "a", "{z}", "0", "{x}", "0", "{y}", "0").Replace(t)); err != nil ||
		(u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		es.Add(config.Join(prefix, "map.tiles"), "%q is neither an http(s) URL nor a path on the hub (/…)", t)
	}
	if c.Map.MaxZoom < 0 || c.Map.MaxZoom > 24 {
		es.Add(config.Join(prefix, "map.maxZoom"), "%d is not a zoom level (0 to 24)", c.Map.MaxZoom)
	}
}

// tileOrigin is the origin of an absolute tile URL template ("" for a
// path on the hub), with "*." for a {s} subdomain.
func (m MapConfig) tileOrigin() string {
	if m.Tiles == "" || (strings.HasPrefix(m.Tiles, "/") && !strings.HasPrefix(m.Tiles, "//")) {
		return ""
	}
	const sub = "gridedge-subdomain"
	u, err := url.Parse(strings.NewReplacer("{s}", sub, "{z}", "0", "{x}", "0", "{y}", "0").Replace(m.Tiles))
	if err != nil || u.Host == "" {
		return ""
	}
	host := strings.ReplaceAll(u.Host, sub+".", "*.")
	if strings.ContainsAny(host, "{} ;'\"") {
		return ""
	}
	return u.Scheme + "://" + host
}

// Mount serves the console's paths (/console/…, and / redirecting to
// /console/) and passes every other request to next.
func Mount(next http.Handler, cfg Config) http.Handler {
	h := Handler(cfg)
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

// clientConfig is /console/config.json: what the pages need of the config.
func clientConfig(cfg Config) []byte {
	maxZoom := cfg.Map.MaxZoom
	if maxZoom == 0 {
		maxZoom = 19
	}
	b, _ := json.Marshal(map[string]any{"map": map[string]any{
		"tiles": cfg.Map.Tiles, "attribution": cfg.Map.Attribution, "maxZoom": maxZoom}})
	return b
}
