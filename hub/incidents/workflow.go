package incidents

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
)

// Placeholders of a workflow body (seed 3.2.4: "Attribute with value
// VALUE_INCIDENT is replaced automatically by the complete content of the
// document"). VALUE_INCIDENT_ID, GridEdge's addition, is replaced by the
// incident's _id, e.g. as Flowable's businessKey.
const (
	ValueIncident   = "VALUE_INCIDENT"
	ValueIncidentID = "VALUE_INCIDENT_ID"
)

// HeaderIdempotencyKey carries the business key of an incident on every
// call, the same on every attempt, so that a receiver can ignore repeats.
const HeaderIdempotencyKey = "Idempotency-Key"

// Workflow is one entry config.notify.<TYPE> of the incidents layer: the
// HTTP call that an incident of that type triggers.
type Workflow struct {
	// URL is called (e.g. Flowable's .../runtime/process-instances).
	URL string `json:"url"`
	// Method is the HTTP method (default POST).
	Method string `json:"method,omitempty"`
	// Auth is "user:pass" (HTTP basic authentication, as in the seed) or
	// a whole Authorization header value starting with Basic, Bearer,
	// Token, ApiKey or Digest and a space (optional).
	Auth string `json:"auth,omitempty"`
	// Body is sent as JSON, each string "VALUE_INCIDENT" replaced by the
	// incident document and "VALUE_INCIDENT_ID" by its _id; default: the
	// document itself.
	Body any `json:"body,omitempty"`
	// Headers are added to the request (GridEdge's addition).
	Headers map[string]string `json:"headers,omitempty"`
}

// workflowFor returns the workflow that config.notify of layer l gives
// incidents of type typ; ok is false when there is none. A malformed entry
// is an error naming its path.
func workflowFor(l *store.Layer, typ string) (w *Workflow, ok bool, err error) {
	notify, _ := l.Config["notify"].(map[string]any)
	raw, found := notify[typ]
	if !found || typ == "" {
		return nil, false, nil
	}
	p := l.ID + ".config.notify." + typ
	w = &Workflow{}
	if err := config.DecodeValue(p, raw, w); err != nil {
		return nil, true, fmt.Errorf("layer %s: %w", p, err)
	}
	if err := checkURL(w.URL); err != nil {
		return nil, true, fmt.Errorf("layer %s.url: %w", p, err)
	}
	if w.Method == "" {
		w.Method = http.MethodPost
	}
	w.Method = strings.ToUpper(w.Method)
	switch w.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete:
	default:
		return nil, true, fmt.Errorf("layer %s.method: %q is not one of POST, PUT, PATCH, GET, DELETE", p, w.Method)
	}
	return w, true, nil
}

// body returns the request body for doc: Body with the placeholders
// replaced, or doc itself.
func (w *Workflow) body(doc store.Document) ([]byte, error) {
	if w.Body == nil {
		return json.Marshal(doc)
	}
	return json.Marshal(substitute(w.Body, doc))
}

// substitute returns a copy of v with every string VALUE_INCIDENT replaced
// by doc and VALUE_INCIDENT_ID by doc's _id.
func substitute(v any, doc store.Document) any {
	switch t := v.(type) {
	case string:
		switch t {
		case ValueIncident:
			return doc
		case ValueIncidentID:
			return doc[store.FieldID]
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = substitute(e, doc)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = substitute(e, doc)
		}
		return out
	}
	return v
}

// authorization turns Auth into an Authorization header value.
func authorization(auth string) string {
	if auth == "" {
		return ""
	}
	if scheme, _, ok := strings.Cut(auth, " "); ok {
		switch strings.ToLower(scheme) {
		case "basic", "bearer", "token", "apikey", "digest":
			return auth // a whole header value
		}
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(auth))
}

// call makes the workflow's HTTP call for doc and returns the status (0
// when no answer came); an answer other than 2xx is an error quoting the
// start of its body.
func (w *Workflow) call(ctx context.Context, c *http.Client, doc store.Document, key string) (int, error) {
	body, err := w.body(doc)
	if err != nil {
		return 0, fmt.Errorf("encode the body: %w", err)
	}
	var rd io.Reader
	if w.Method != http.MethodGet {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, rd)
	if err != nil {
		return 0, fmt.Errorf("make the request: %w", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderIdempotencyKey, key)
	if a := authorization(w.Auth); a != "" {
		req.Header.Set("Authorization", a)
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	return do(c, req)
}

// do sends req and judges the answer.
func do(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", req.Method, redact(req.URL.String()), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", req.Method, redact(req.URL.String()), resp.Status,
			strings.TrimSpace(string(snippet)))
	}
	return resp.StatusCode, nil
}

// redact drops credentials from a URL for errors and logs.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.Index(u[i+3:], "@"); at >= 0 && !strings.Contains(u[i+3:i+3+at], "/") {
			return u[:i+3] + "…@" + u[i+3+at+1:]
		}
	}
	return u
}
