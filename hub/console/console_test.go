package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestMount(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "api")
	})
	h := Mount(next, Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		location     string
		ctype        string
	}{
		{"GET", "/", http.StatusFound, "/console/", ""},
		{"POST", "/", http.StatusTeapot, "", ""},
		{"GET", "/console", http.StatusMovedPermanently, "/console/", ""},
		{"GET", "/console/", http.StatusOK, "", "text/html; charset=utf-8"},
		{"HEAD", "/console/", http.StatusOK, "", "text/html; charset=utf-8"},
		{"GET", "/console/js/app.js", http.StatusOK, "", "text/javascript; charset=utf-8"},
		{"GET", "/console/app.css", http.StatusOK, "", "text/css; charset=utf-8"},
		{"GET", "/console/vendor/uPlot.esm.js", http.StatusOK, "", "text/javascript; charset=utf-8"},
		{"GET", "/console/nope.js", http.StatusNotFound, "", ""},
		{"GET", "/console/../go.mod", http.StatusNotFound, "", ""},
		{"DELETE", "/console/", http.StatusMethodNotAllowed, "", ""},
		{"GET", "/api/v2/health", http.StatusTeapot, "", ""},
		{"GET", "/websocket", http.StatusTeapot, "", ""},
		{"GET", "/consoles", http.StatusTeapot, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := get(t, h, tc.method, tc.path, nil)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.location != "" && w.Header().Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", w.Header().Get("Location"), tc.location)
			}
			if tc.ctype != "" && w.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), tc.ctype)
			}
			if (tc.path == "/console" || strings.HasPrefix(tc.path, "/console/")) && w.Header().Get("Content-Security-Policy") != CSP {
				t.Errorf("CSP %q, want %q", w.Header().Get("Content-Security-Policy"), CSP)
			}
		})
	}
}

func TestGzipAndETag(t *testing.T) {
	h := Handler(Config{})
	plain := get(t, h, "GET", "/console/js/app.js", nil)
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("gzip without Accept-Encoding")
	}
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true}, {"br, gzip;q=0.5", true}, {"*", true}, {"gzip;q=0", false},
		{"identity", false}, {"deflate, br", false}, {"gzip;q=bogus", false},
	} {
		w := get(t, h, "GET", "/console/js/app.js", map[string]string{"Accept-Encoding": tc.accept})
		gz := w.Header().Get("Content-Encoding") == "gzip"
		if gz != tc.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", tc.accept, gz, tc.gzip)
			continue
		}
		body := w.Body.Bytes()
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(body, plain.Body.Bytes()) {
			t.Errorf("Accept-Encoding %q: body differs from the plain one", tc.accept)
		}
	}
	etag := plain.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if w := get(t, h, "GET", "/console/js/app.js", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: status %d with %d bytes, want 304 and none", w.Code, w.Body.Len())
	}
}

var (
	refRE    = regexp.MustCompile(`(?:href|src)="([^"]+)"`)
	importRE = regexp.MustCompile(`(?m)^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]`)
)

// firstLoad lists the files a browser fetches to show the login page:
// what index.html links, and every module app.js imports, transitively.
func firstLoad(t *testing.T) []string {
	t.Helper()
	as, err := load()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{"index.html": true}
	queue := []string{"index.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		a := as[name]
		if a == nil {
			t.Fatalf("%s is referenced but not embedded", name)
		}
		var refs []string
		for _, m := range refRE.FindAllStringSubmatch(string(a.raw), -1) {
			refs = append(refs, m[1])
		}
		if strings.HasSuffix(name, ".js") {
			for _, m := range importRE.FindAllStringSubmatch(string(a.raw), -1) {
				refs = append(refs, m[1])
			}
		}
		for _, r := range refs {
			if strings.HasPrefix(r, "data:") || strings.HasPrefix(r, "#") {
				continue
			}
			if strings.Contains(r, "//") {
				t.Errorf("%s references %q: the console must load nothing from another origin", name, r)
				continue
			}
			p := path.Clean(path.Join(path.Dir(name), r))
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	return out
}

// TestFirstLoadSize: the files of the first load, compressed as served,
// stay within 250 KB.
func TestFirstLoadSize(t *testing.T) {
	const budget = 250 << 10
	h := Handler(Config{})
	total := 0
	files := firstLoad(t)
	if len(files) < 8 {
		t.Fatalf("first load found only %v: the reference scan is broken", files)
	}
	for _, f := range files {
		w := get(t, h, "GET", Path+f, map[string]string{"Accept-Encoding": "gzip"})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", f, w.Code)
		}
		total += w.Body.Len()
	}
	t.Logf("first load: %d files, %d bytes compressed (budget %d)", len(files), total, budget)
	if total > budget {
		t.Errorf("first load is %d bytes compressed, over the %d budget", total, budget)
	}
}

// TestNoInlineScript: the strict CSP forbids inline scripts and handlers,
// so the page must have none (it would silently not run).
func TestNoInlineScript(t *testing.T) {
	as, err := load()
	if err != nil {
		t.Fatal(err)
	}
	html := string(as["index.html"].raw)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`),
		regexp.MustCompile(`(?i)\son[a-z]+="`),
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle="`),
	} {
		if m := re.FindString(html); m != "" {
			t.Errorf("index.html has %q, which the CSP blocks", m)
		}
	}
	for name, a := range as {
		if strings.HasPrefix(name, "js/") && bytes.Contains(a.raw, []byte("localStorage")) {
			t.Errorf("%s uses localStorage: the token must stay in memory", name)
		}
	}
}
