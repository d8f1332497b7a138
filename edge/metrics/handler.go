package metrics

import (
	"bytes"
	"log/slog"
	"net/http"
)

// Handler serves GET (and HEAD) requests with what collect writes. The
// exposition is built in memory first, so a collector error is answered
// with 500 rather than a truncated page.
func Handler(collect func(w *Writer), log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rw.Header().Set("Allow", "GET, HEAD")
			http.Error(rw, "metrics: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		collect(w)
		if err := w.Flush(); err != nil {
			log.Error("metrics: building the exposition", "err", err)
			http.Error(rw, "metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", ContentType)
		_, _ = rw.Write(buf.Bytes())
	})
}
