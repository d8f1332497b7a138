package iot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a hub in miniature: a bolt store with the history recorder
// in front of a real TSDB, real auth, the service behind an HTTP server.
type harness struct {
	t       testing.TB
	dir     string
	st      store.Store
	bolt    *bolt.Store
	hist    *history.TSDB
	auth    *auth.Service
	svc     *Service
	srv     *httptest.Server
	clock   *clock
	cfg     Config
	admin   http.Header
	changes []store.Change
	mu      sync.Mutex
}

func newHarness(t testing.TB, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: &clock{t: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}}
	var err error
	if h.bolt, err = bolt.Open(filepath.Join(h.dir, "hub.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.bolt.Close() })
	if h.hist, err = history.OpenTSDB(history.TSDBOptions{Dir: filepath.Join(h.dir, "history"), OutOfOrderWindow: 365 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.hist.Close() })
	h.st = history.NewRecorder(h.bolt, h.hist, nil)
	h.auth = auth.New(h.st, auth.Options{BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if _, err := h.auth.Bootstrap(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	sess, err := h.auth.Login(ctx, "admin", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	h.admin = http.Header{"X-User-Id": {"admin"}, "X-Auth-Token": {sess.Token}}
	h.cfg = Config{Enabled: true}
	if edit != nil {
		edit(&h.cfg)
	}
	h.cfg.Defaults()
	h.start(t)
	return h
}

// start (re)starts the service over the harness's store.
func (h *harness) start(t testing.TB) {
	t.Helper()
	if h.srv != nil {
		h.srv.Close()
	}
	svc, err := New(context.Background(), Options{Config: h.cfg, Store: h.st, Now: h.clock.Now, Version: "test", Port: "8080",
		Reserved: func(l string) bool { return l == "system" || l == "api" },
		Changes: func(c store.Change) {
			h.mu.Lock()
			h.changes = append(h.changes, c)
			h.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	h.srv = httptest.NewServer(svc.Mount(http.NotFoundHandler(), h.auth))
	t.Cleanup(h.srv.Close)
}

// do sends a request; hdr adds headers (the admin's credentials unless
// noAuth). It returns the status and the decoded body.
func (h *harness) do(method, path string, body any, hdr http.Header) (int, map[string]any) {
	h.t.Helper()
	code, b := h.raw(method, path, body, hdr)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatalf("%s %s: body %q: %v", method, path, b, err)
		}
	}
	return code, m
}

func (h *harness) raw(method, path string, body any, hdr http.Header) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// fiware returns the admin's headers with a service and service path.
func (h *harness) fiware(service, path string) http.Header {
	hd := h.admin.Clone()
	if service != "" {
		hd.Set(HeaderService, service)
	}
	if path != "" {
		hd.Set(HeaderServicePath, path)
	}
	return hd
}

// must sends a request and fails unless the status is want.
func (h *harness) must(want int, method, path string, body any, hdr http.Header) map[string]any {
	h.t.Helper()
	code, m := h.do(method, path, body, hdr)
	if code != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %v", method, path, code, want, m)
	}
	return m
}

// wantError checks an IoT agent error answer.
func (h *harness) wantError(wantCode int, wantName, method, path string, body any, hdr http.Header) map[string]any {
	h.t.Helper()
	code, m := h.do(method, path, body, hdr)
	if code != wantCode || m["name"] != wantName {
		h.t.Fatalf("%s %s: %d %v, want %d with name %s", method, path, code, m, wantCode, wantName)
	}
	if msg, _ := m["message"].(string); msg == "" {
		h.t.Fatalf("%s %s: error without message: %v", method, path, m)
	}
	return m
}

// doc reads a stored document.
func (h *harness) doc(layer, col, id string) store.Document {
	h.t.Helper()
	d, err := h.st.Get(context.Background(), layer, col, id)
	if err != nil {
		h.t.Fatalf("get %s/%s/%s: %v", layer, col, id, err)
	}
	return d
}

// value returns measurements.<name>.value of a stored document.
func (h *harness) value(layer, col, id, name string) any {
	h.t.Helper()
	d := h.doc(layer, col, id)
	ms, _ := d["measurements"].(map[string]any)
	m, ok := ms[name].(map[string]any)
	if !ok {
		h.t.Fatalf("%s/%s/%s has no measurement %s: %v", layer, col, id, name, d)
	}
	return m["value"]
}

// points returns the history values of a field of a document.
func (h *harness) points(layer, col, id, field string) []float64 {
	h.t.Helper()
	var out []float64
	err := h.hist.Select(context.Background(), history.Query{Layer: layer, Collection: col, IDs: []string{id}, Fields: []string{field},
		From: time.Unix(0, 0), To: h.clock.Now().Add(time.Hour)}, func(s history.Series) error {
		for p := range s.Points {
			out = append(out, p.V)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

type authPerm = auth.Perm

const permRead = auth.Read

func newUser(name string, grants map[string]auth.Perm) auth.NewUser {
	return auth.NewUser{Name: name, Password: "password-1234", Grants: grants}
}
