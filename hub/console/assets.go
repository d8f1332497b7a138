package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed ui
var uiFS embed.FS

// CSP is the console's Content-Security-Policy: scripts, styles, images and
// connections from the hub's own origin only (WebSocket included), no
// inline script, no plugins, no framing. A configured tile server's origin
// is added to img-src (see CSPFor).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// CSPFor is CSP with the map tiles' origin, if cfg has an absolute one.
func CSPFor(cfg Config) string {
	if o := cfg.Map.tileOrigin(); o != "" {
		return strings.Replace(CSP, "img-src 'self' data:;", "img-src 'self' data: "+o+";", 1)
	}
	return CSP
}

// asset is one embedded file, with its gzip form when that is smaller.
type asset struct {
	name  string
	ctype string
	raw   []byte
	gz    []byte // nil when gzip does not help
	etag  string
}

var (
	loadOnce sync.Once
	assets   map[string]*asset
	loadErr  error
)

// load reads and compresses every embedded file once.
func load() (map[string]*asset, error) {
	loadOnce.Do(func() {
		assets = map[string]*asset{}
		loadErr = fs.WalkDir(uiFS, "ui", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := uiFS.ReadFile(p)
			if err != nil {
				return fmt.Errorf("console: read embedded %s: %w", p, err)
			}
			a := &asset{name: strings.TrimPrefix(p, "ui/"), raw: raw}
			a.ctype = mime.TypeByExtension(path.Ext(p))
			switch path.Ext(p) {
			case ".js", ".mjs":
				a.ctype = "text/javascript; charset=utf-8"
			case ".json":
				a.ctype = "application/json"
			case "", ".LICENSE":
				a.ctype = "text/plain; charset=utf-8"
			}
			if a.ctype == "" {
				a.ctype = "application/octet-stream"
			}
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			if _, err := zw.Write(raw); err != nil {
				return fmt.Errorf("console: compress %s: %w", p, err)
			}
			if err := zw.Close(); err != nil {
				return fmt.Errorf("console: compress %s: %w", p, err)
			}
			if b.Len() < len(raw) {
				a.gz = b.Bytes()
			}
			sum := sha256.Sum256(raw)
			a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
			assets[a.name] = a
			return nil
		})
	})
	return assets, loadErr
}

// Handler serves the embedded console under Path: index.html for Path
// itself, each file with its media type, ETag and, when the client accepts
// it, gzip, and config.json (the map's base layer). Every answer carries
// the CSP and no-sniff headers.
func Handler(cfg Config) http.Handler {
	csp := CSPFor(cfg)
	conf := clientConfig(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hd.Set("Allow", "GET, HEAD")
			http.Error(w, "console: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		as, err := load()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Path)
		if r.URL.Path+"/" == Path {
			http.Redirect(w, r, Path, http.StatusMovedPermanently)
			return
		}
		if name == "" {
			name = "index.html"
		}
		if name == "config.json" {
			hd.Set("Content-Type", "application/json")
			hd.Set("Cache-Control", "no-store")
			_, _ = w.Write(conf)
			return
		}
		a, ok := as[name]
		if !ok {
			http.Error(w, fmt.Sprintf("console: no such file: %s", name), http.StatusNotFound)
			return
		}
		hd.Set("Content-Type", a.ctype)
		hd.Set("ETag", a.etag)
		hd.Add("Vary", "Accept-Encoding")
		// Revalidate every time: a hub upgrade changes the files under the
		// same names; the ETag keeps it to a 304.
		hd.Set("Cache-Control", "no-cache")
		if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.raw
		if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			hd.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		hd.Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip (by
// name or "*", with a q-value above zero).
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		enc = strings.TrimSpace(enc)
		if !strings.EqualFold(enc, "gzip") && enc != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return false
				}
				q = f
			}
		}
		return q > 0
	}
	return false
}
