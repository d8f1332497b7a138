package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/hub/bridge/webhook"
	"github.com/gridedge/gridedge/shared/config"
)

// receiver is the other platform: it records the events of 2xx answers
// and fails every request while down.
type receiver struct {
	t       *testing.T
	tally   *bridgetest.Tally
	down    atomic.Bool
	refused atomic.Int64
	badKeys atomic.Int64
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.down.Load() {
		r.refused.Add(1)
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("Authorization") != "Bearer s3cret" {
		r.t.Errorf("got %s with Content-Type %q, Authorization %q", req.Method, req.Header.Get("Content-Type"), req.Header.Get("Authorization"))
	}
	body, _ := io.ReadAll(req.Body)
	var events []json.RawMessage
	if err := json.Unmarshal(body, &events); err != nil {
		r.t.Errorf("body is not a JSON array: %v", err)
		return
	}
	keys := strings.Split(req.Header.Get(bridge.HeaderKey), ",")
	if len(keys) != len(events) {
		r.badKeys.Add(1)
	}
	for i, e := range events {
		var ev bridge.Event
		_ = json.Unmarshal(e, &ev)
		if i < len(keys) && ev.Key != keys[i] {
			r.badKeys.Add(1)
		}
		if err := r.tally.Add(e); err != nil {
			r.t.Error(err)
		}
	}
}

func TestWebhookForwardsThroughOutageAndRestart(t *testing.T) {
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters", "generators")
	env.Layer(t, "other", "things")
	rec := &receiver{t: t, tally: bridgetest.NewTally()}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	t.Setenv("HOOK_TOKEN", "Bearer s3cret")
	cfg := bridge.Config{Name: "hook", Type: bridge.TypeWebhook, URL: srv.URL, Direction: bridge.Out,
		Layers: []string{"gridflex"}, Batch: 50, MaxBackoff: config.Duration(200 * time.Millisecond),
		Headers: map[string]string{"Authorization": "$HOOK_TOKEN"}}
	o, stop := env.StartOutbound(t, cfg, webhook.New(cfg, nil))

	env.Write(t, "gridflex", "meters", 0, 300)
	env.Write(t, "other", "things", 0, 50) // not a bridged layer
	rec.tally.WaitIDs(t, 300, 20*time.Second)

	// the platform goes down mid-stream: the bridge keeps trying
	rec.down.Store(true)
	env.Write(t, "gridflex", "generators", 1000, 1200)
	bridgetest.Eventually(t, 10*time.Second, "a refused request", func() bool { return rec.refused.Load() > 0 })
	rec.down.Store(false)
	rec.tally.WaitIDs(t, 500, 20*time.Second)

	// the hub stops and starts again: the durable consumer resumes
	stop()
	env.Write(t, "gridflex", "meters", 300, 400)
	_, stop2 := env.StartOutbound(t, cfg, webhook.New(cfg, nil))
	defer stop2()
	rec.tally.WaitIDs(t, 600, 20*time.Second)

	keys, dups, ids := rec.tally.Distinct()
	if keys != 600 || ids != 600 {
		t.Errorf("got %d keys for %d documents, want 600 changes of 600 documents (none of the other layer)", keys, ids)
	}
	if rec.badKeys.Load() != 0 {
		t.Errorf("Idempotency-Key did not list the body's keys in %d requests", rec.badKeys.Load())
	}
	st := o.Stats()
	if st.Failures == 0 {
		t.Errorf("got stats %+v, want failures counted during the outage", st)
	}
	t.Logf("delivered %d changes, %d duplicates, %d failed sends during the outage", keys, dups, st.Failures)
}
