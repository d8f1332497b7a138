package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/hub/bridge/webhook"
)

// BenchmarkWebhookOut: events/s from the change feed to a local HTTP
// receiver that reads each body and answers 204.
func BenchmarkWebhookOut(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	env := bridgetest.New(b)
	cfg := bridge.Config{Name: "hook", Type: bridge.TypeWebhook, URL: srv.URL, Direction: bridge.Out, Layers: []string{"gridflex"}}
	cfg.Defaults()
	env.BenchOutbound(b, cfg, func() bridge.Sink { return webhook.New(cfg, nil) })
}
