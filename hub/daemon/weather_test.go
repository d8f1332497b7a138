package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/weather"
	"github.com/gridedge/gridedge/shared/subject"
)

// TestWeatherService: with services.weather on, the hub serves the seed's
// /api/v1/weather with its credentials, and the refresh of a site writes
// the weather layer's current document, whose temperature enters the
// history (REST /api/v2/history), so forecasting can use it as a
// regressor. The provider is a local server with Open-Meteo's response
// shape, its observation time moved to now.
func TestWeatherService(t *testing.T) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	raw, err := os.ReadFile("../weather/testdata/openmeteo_current.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(15 * time.Minute)
	body := strings.Replace(string(raw), "2019-11-20T13:45", now.Format("2006-01-02T15:04"), 1)
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/forecast" || !r.URL.Query().Has("current") {
			http.Error(w, `{"error":true,"reason":"test server: current weather only"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer prov.Close()

	cfg := testConfig(t, t.TempDir())
	hours := 0
	cfg.Services.Weather = weather.Config{Enabled: true, Provider: weather.ProviderOpenMeteo, BaseURL: prov.URL, Hours: &hours,
		Sites: []weather.Site{{ID: "VLC", Query: weather.Query{CityName: "Valencia,ESP", Lat: ptrF(39.469917), Lon: ptrF(-0.3763)}}}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := "http://" + h.HTTPAddr()
	q := "?cityName=Valencia&lat=39.469917&lon=-0.3763"
	if code, m := call(t, "GET", base+"/api/v1/weather"+q, nil, nil); code != 401 {
		t.Errorf("no credentials: got %d %v, want 401", code, m)
	}
	_, m := call(t, "POST", base+"/api/v2/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	d := m["data"].(map[string]any)
	hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	code, m := call(t, "GET", base+"/api/v1/weather"+q, nil, hdr)
	if code != 200 || m["temperature"] != 18.3 || m["windDirectionCardinal"] != "SW" {
		t.Errorf("GET /api/v1/weather: got %d %v", code, m)
	}
	if code, m := call(t, "GET", base+"/api/v1/weatherforecast"+q+"&hours=49", nil, hdr); code != 400 {
		t.Errorf("hours=49: got %d %v, want 400", code, m)
	}
	// the same over NATS: <domain>.weather.current
	nc, err := h.Broker().Connect("test-client")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request(subject.Weather(cfg.Domain, "current"), []byte(`{"cityName":"Valencia","lat":39.469917,"lon":-0.3763}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep weather.Reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Status != "success" || rep.Data.(map[string]any)["temperature"] != 18.3 {
		t.Errorf("weather.current over NATS: %s %v", msg.Data, err)
	}
	if !h.Weather().Refreshing() {
		t.Errorf("the only hub does not refresh the sites")
	}

	// the refresh ran at start: the document, then its history
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, m = call(t, "GET", base+"/api/v2/weather/current/VLC", nil, hdr)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no weather document after 15s: %d %v", code, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	doc := m["data"].(map[string]any)
	if temp := doc["measurements"].(map[string]any)["temperature"].(map[string]any); temp["value"] != 18.3 || doc["stale"] != false {
		t.Errorf("weather document: %v", doc)
	}
	from := now.Add(-time.Hour).Format(time.RFC3339)
	code, m = call(t, "GET", fmt.Sprintf("%s/api/v2/history/weather/current/VLC?fields=measurements.temperature&from=%s", base, from), nil, hdr)
	data, _ := m["data"].([]any)
	if code != 200 || len(data) != 1 {
		t.Fatalf("history: got %d %v", code, m)
	}
	pts := data[0].(map[string]any)["points"].([]any)
	if len(pts) != 1 || pts[0].([]any)[1] != 18.3 {
		b, _ := json.Marshal(pts)
		t.Errorf("history points: got %s, want one point of 18.3 at the observation time", b)
	}
}

func ptrF(f float64) *float64 { return &f }

// TestWeatherConfigFile: services.weather decodes strictly from the hub's
// config file (the site's query options inline), and its problems carry
// their paths.
func TestWeatherConfigFile(t *testing.T) {
	t.Setenv("WX_KEY", "k")
	dir := t.TempDir()
	write := func(s string) string {
		p := dir + "/hub.yaml"
		if err := os.WriteFile(p, []byte("dataDir: "+dir+"\n"+s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write(`services:
  weather:
    enabled: true
    apiKey: $WX_KEY
    refresh: 10m
    sites:
      - {cityName: "Valencia,ESP", lat: 39.469917, lon: -0.3763, topic: valencia}
      - {cityName: Madrid, postalCode: "28001", country: ES}
    amqp: {host: localhost, exchange: xflex}
`))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Services.Weather
	if w.Provider != "weatherbit" || w.Sites[1].ID != "Madrid" || w.Sites[0].Topic != "valencia" || *w.Sites[0].Lat != 39.469917 ||
		w.AMQP.Port != 5672 || w.AMQP.WeatherTopic != "weather.#" || *w.Hours != 48 {
		t.Errorf("decoded: %+v", w)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"services:\n  weather:\n    enabled: true\n    apiKey: k\n    sites: [{cityName: X, citty: Y}]\n", "services.weather.sites[0].citty"},
		{"services:\n  weather:\n    enabled: true\n    sites: [{cityName: X, city: Y}]\n", "services.weather.apiKey"},
		{"services:\n  weather:\n    enabled: true\n    provider: openmeteo\n    layer: system\n    sites: [{cityName: X}]\n", "services.weather.layer"},
	} {
		_, err := Load(write(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error naming %s", tt.yaml, err, tt.want)
		}
	}
}
