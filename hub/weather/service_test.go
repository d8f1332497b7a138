package weather

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
	"github.com/gridedge/gridedge/shared/config"
	"golang.org/x/crypto/bcrypt"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testAuth is a real auth service with alice (weather read) and bob (no
// grant); it returns their tokens.
func testAuth(t *testing.T) (*auth.Service, map[string]string) {
	t.Helper()
	ctx := context.Background()
	as := auth.New(openStore(t), auth.Options{BcryptCost: bcrypt.MinCost, TokenTTL: time.Hour, Logger: quiet})
	if _, err := as.Bootstrap(ctx, "admin-password-1234"); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for name, g := range map[string]map[string]auth.Perm{"alice": {Grant: auth.Read}, "bob": {"other": auth.Write}} {
		if _, err := as.AddUser(ctx, auth.NewUser{Name: name, Password: "a long password 42", Grants: g}); err != nil {
			t.Fatal(err)
		}
		sess, err := as.Login(ctx, name, "a long password 42")
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = sess.Token
	}
	return as, tokens
}

func testConfig(f *fakeProviders, provider string) Config {
	c := Config{Enabled: true, Provider: provider, APIKey: testKey, BaseURL: f.srv.URL + "/v2.0", GeocodingURL: f.srv.URL,
		Sites: []Site{{ID: "VLC", Query: valencia}}}
	if provider == ProviderOpenMeteo {
		c.APIKey, c.BaseURL = "", f.srv.URL
	}
	c.Defaults()
	return c
}

// get calls the handler as user and returns status, header and body.
func get(t *testing.T, h http.Handler, user, token, target string) (int, http.Header, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if user != "" {
		r.Header.Set("X-User-ID", user)
		r.Header.Set("X-Auth-Token", token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.String()
}

// TestREST: the seed's routes with the hub's auth; bad query options are
// 400s naming the problem; an unknown place is 404; a provider that goes
// down is answered from the last good data marked stale, or 502 when
// there is none.
func TestREST(t *testing.T) {
	f := newFakeProviders(t)
	as, tokens := testAuth(t)
	for _, provider := range []string{ProviderWeatherbit, ProviderOpenMeteo} {
		t.Run(provider, func(t *testing.T) {
			svc, err := New(Options{Config: testConfig(f, provider), Store: openStore(t), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
			h := svc.Mount(next, as)
			alice := func(target string) (int, http.Header, string) { return get(t, h, "alice", tokens["alice"], target) }

			if code, _, _ := get(t, h, "", "", "/api/v2/other"); code != http.StatusTeapot {
				t.Errorf("other paths: got %d, want them passed on", code)
			}
			if code, _, body := get(t, h, "", "", PathCurrent+"?cityName=V&city=Valencia"); code != 401 || !strings.Contains(body, "credentials required") {
				t.Errorf("no credentials: got %d %s, want 401", code, body)
			}
			if code, _, body := get(t, h, "bob", tokens["bob"], PathCurrent+"?cityName=V&city=Valencia"); code != 403 || !strings.Contains(body, `{\"weather\": \"read\"}`) {
				t.Errorf("bob: got %d %s, want 403 naming the grant", code, body)
			}
			bad := []struct{ target, says string }{
				{PathCurrent + "?city=Valencia", "cityName is mandatory"},
				{PathCurrent + "?cityName=V", "give lat and lon"},
				{PathCurrent + "?cityName=V&postalCode=46014", "postalCode needs country"},
				{PathForecast + "?cityName=V&city=Valencia&hours=49", `hours \"49\" must be a whole number from 1 to 48`},
				{PathCurrent + "?cityName=V&city=Valencia&hours=2", "hours applies to /api/v1/weatherforecast only"},
			}
			for _, b := range bad {
				code, _, body := alice(b.target)
				if code != 400 || !strings.Contains(body, `"status":"error"`) || !strings.Contains(body, b.says) {
					t.Errorf("%s: got %d %s, want 400 saying %q", b.target, code, body, b.says)
				}
			}
			if code, _, body := alice(PathCurrent + "?cityName=X&city=Atlantis&country=ES"); code != 404 {
				t.Errorf("unknown place: got %d %s, want 404", code, body)
			}

			code, hdr, body := alice(PathCurrent + "?cityName=Valencia&lat=39.469917&lon=-0.3763")
			var cur map[string]any
			if code != 200 || json.Unmarshal([]byte(body), &cur) != nil || cur["temperature"] != 18.3 || hdr.Get(StaleHeader) != "" {
				t.Fatalf("current: got %d %s %v", code, body, hdr)
			}
			if loc := cur["location"].(map[string]any); loc["name"] != "Valencia" {
				t.Errorf("location name: got %v, want the query's cityName", loc["name"])
			}
			code, _, body = alice(PathForecast + "?cityName=Valencia&lat=39.469917&lon=-0.3763&hours=12")
			var fc []map[string]any
			if code != 200 || json.Unmarshal([]byte(body), &fc) != nil || len(fc) != 12 {
				t.Fatalf("forecast: got %d, %d hours: %.200s", code, len(fc), body)
			}
			code, _, body = alice(PathForecast + "?cityName=Valencia&lat=39.469917&lon=-0.3763")
			if json.Unmarshal([]byte(body), &fc) != nil || code != 200 || len(fc) != 48 {
				t.Fatalf("forecast without hours: got %d, %d hours, want 48", code, len(fc))
			}

			// the provider goes down; the cache is past its time
			svc.now = func() time.Time { return time.Now().Add(time.Hour) }
			f.down.Store(true)
			defer f.down.Store(false)
			code, hdr, body = alice(PathCurrent + "?cityName=Valencia&lat=39.469917&lon=-0.3763")
			if code != 200 || !strings.Contains(body, `"stale":true`) || !strings.Contains(body, `"temperature":18.3`) || !strings.Contains(hdr.Get(StaleHeader), "503") {
				t.Errorf("current, provider down: got %d %s %v, want the last good data, stale", code, body, hdr)
			}
			code, hdr, body = alice(PathForecast + "?cityName=Valencia&lat=39.469917&lon=-0.3763&hours=3")
			if json.Unmarshal([]byte(body), &fc) != nil || code != 200 || len(fc) != 3 || fc[0]["stale"] != true || hdr.Get(StaleHeader) == "" {
				t.Errorf("forecast, provider down: got %d %.300s, want 3 stale hours", code, body)
			}
			code, _, body = alice(PathCurrent + "?cityName=Madrid&lat=40.4&lon=-3.7")
			if code != 502 || !strings.Contains(body, "weather provider failed") {
				t.Errorf("provider down, nothing known: got %d %s, want 502", code, body)
			}
		})
	}
}

// TestRESTCache: a second question about the same place within cacheFor
// does not call the provider.
func TestRESTCache(t *testing.T) {
	f := newFakeProviders(t)
	svc, err := New(Options{Config: testConfig(f, ProviderWeatherbit), Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		q := valencia
		q.CityName = []string{"A", "B", "C"}[i]
		c, _, err := svc.Current(ctx, q)
		if err != nil || c.Location.Name != q.CityName {
			t.Fatalf("call %d: %v, name %q", i, err, c.Location.Name)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("provider calls: got %d, want 1", n)
	}
}

// TestRefresh: a refresh writes the site's current weather as
// measurements (value, quality, observation time) and its forecast; a
// provider failure keeps the values and marks them stale (staleSince from
// the first failure); the next good refresh clears it.
func TestRefresh(t *testing.T) {
	f := newFakeProviders(t)
	st := openStore(t)
	cfg := testConfig(f, ProviderWeatherbit)
	hours := 24
	cfg.Hours = &hours
	svc, err := New(Options{Config: cfg, Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.EnsureLayer(ctx); err != nil {
		t.Fatal(err)
	}
	site := cfg.Sites[0]
	if err := svc.RefreshCurrent(ctx, site); err != nil {
		t.Fatal(err)
	}
	if err := svc.RefreshForecast(ctx, site); err != nil {
		t.Fatal(err)
	}
	doc, err := st.Get(ctx, "weather", "current", "VLC")
	if err != nil {
		t.Fatal(err)
	}
	ms := doc["measurements"].(map[string]any)
	temp := ms["temperature"].(map[string]any)
	if temp["value"] != 18.3 || temp["quality"] != float64(1) || len(ms) != 20 {
		t.Errorf("measurements: temperature %v, %d of them; want 18.3 quality 1, the 20 numbers of the seed's message", temp, len(ms))
	}
	if ts, _ := json.Marshal(temp["timestamp"]); !strings.Contains(string(ts), "2019-11-20T13:50:00") {
		t.Errorf("measurement timestamp: got %s, want the observation time", ts)
	}
	if doc["windDirectionCardinal"] != "SW" || doc["stale"] != false {
		t.Errorf("document: got %v", doc)
	}
	fdoc, err := st.Get(ctx, "weather", "forecast", "VLC")
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := fdoc["forecast"].([]any); len(h) != 24 || fdoc["hours"] != float64(24) {
		t.Errorf("forecast document: %d hours, hours=%v; want 24", len(h), fdoc["hours"])
	}

	f.down.Store(true)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2 {
		svc.now = func() time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		if err := svc.RefreshCurrent(ctx, site); err == nil {
			t.Fatal("refresh with the provider down: no error")
		}
		if err := svc.RefreshForecast(ctx, site); err == nil {
			t.Fatal("forecast refresh with the provider down: no error")
		}
	}
	for _, col := range []string{"current", "forecast"} {
		doc, err := st.Get(ctx, "weather", col, "VLC")
		if err != nil {
			t.Fatal(err)
		}
		since, _ := json.Marshal(doc["staleSince"])
		if doc["stale"] != true || !strings.Contains(doc["error"].(string), "503") || !strings.Contains(string(since), "2030-01-01T00:00:00") {
			t.Errorf("%s after failures: stale %v, error %v, staleSince %s; want stale since the first failure", col, doc["stale"], doc["error"], since)
		}
	}
	if doc, _ := st.Get(ctx, "weather", "current", "VLC"); doc["measurements"].(map[string]any)["temperature"].(map[string]any)["value"] != 18.3 {
		t.Errorf("the last good values are gone: %v", doc["measurements"])
	}
	f.down.Store(false)
	if err := svc.RefreshCurrent(ctx, site); err != nil {
		t.Fatal(err)
	}
	if doc, _ := st.Get(ctx, "weather", "current", "VLC"); doc["stale"] != false || doc["error"] != nil || doc["staleSince"] != nil {
		t.Errorf("after recovery: stale %v error %v staleSince %v", doc["stale"], doc["error"], doc["staleSince"])
	}
}

// TestRun: Run refreshes the sites at once and stops with its context.
func TestRun(t *testing.T) {
	f := newFakeProviders(t)
	st := openStore(t)
	svc, err := New(Options{Config: testConfig(f, ProviderOpenMeteo), Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err1 := st.Get(ctx, "weather", "current", "VLC")
		_, err2 := st.Get(ctx, "weather", "forecast", "VLC")
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no documents after 10s: %v, %v", err1, err2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
}

// TestConfigValidate: the config's problems are reported together, with
// their paths.
func TestConfigValidate(t *testing.T) {
	t.Setenv("WX_TEST_KEY", "")
	neg := -1
	c := Config{Enabled: true, Provider: "weatherbit", APIKey: "$WX_TEST_KEY", BaseURL: "ftp://x", Refresh: config.Duration(time.Second), Hours: &neg,
		Sites: []Site{{Query: Query{CityName: "A", City: "Valencia"}}, {Query: Query{CityName: "A", PostalCode: "46014"}}},
		AMQP:  &AMQPConfig{}}
	c.Defaults()
	var es config.Errors
	c.Validate("services.weather", &es)
	got := es.Error()
	for _, want := range []string{
		"services.weather.apiKey", "services.weather.baseURL", "services.weather.refresh", "services.weather.hours",
		"services.weather.sites[1]: postalCode needs country", `services.weather.sites[1].id: "A" is also the id of sites[0]`,
		"services.weather.amqp.host", "services.weather.amqp.exchange",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
	c = Config{Enabled: true, Provider: "accuweather"}
	c.Defaults()
	es = nil
	c.Validate("w", &es)
	if !strings.Contains(es.Error(), `unknown provider "accuweather"`) {
		t.Errorf("got %v", es)
	}
	big := 100
	c = Config{Hours: &big}
	c.Defaults()
	if *c.Hours != MaxHours {
		t.Errorf("hours 100: got %d, want 48 (the seed's cap)", *c.Hours)
	}
}
