package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/shared/config"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     MapConfig
		error string // "" = valid
	}{
		{"no tiles", MapConfig{}, ""},
		{"https", MapConfig{Tiles: "https://tiles.example.org/{z}/{x}/{y}.png"}, ""},
		{"subdomains", MapConfig{Tiles: "https://{s}.tile.example.org/{z}/{x}/{y}.png"}, ""},
		{"same origin path", MapConfig{Tiles: "/tiles/{z}/{x}/{y}.png"}, ""},
		{"missing y", MapConfig{Tiles: "https://tiles.example.org/{z}/{x}.png"}, `console.map.tiles: "https://tiles.example.org/{z}/{x}.png" has no {y}`},
		{"ftp", MapConfig{Tiles: "ftp://tiles.example.org/{z}/{x}/{y}.png"}, "neither an http(s) URL nor a path"},
		{"protocol-relative", MapConfig{Tiles: "//tiles.example.org/{z}/{x}/{y}.png"}, "neither an http(s) URL nor a path"},
		{"relative", MapConfig{Tiles: "tiles/{z}/{x}/{y}.png"}, "neither an http(s) URL nor a path"},
		{"zoom", MapConfig{Tiles: "/t/{z}/{x}/{y}.png", MaxZoom: 30}, ""}, // a same-origin path skips the zoom check below
		{"bad zoom", MapConfig{Tiles: "https://t.example/{z}/{x}/{y}.png", MaxZoom: 30}, "console.map.maxZoom: 30 is not a zoom level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var es config.Errors
			c := Config{Map: tc.m}
			c.Validate("console", &es)
			err := es.Err()
			switch {
			case tc.error == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
				t.Fatalf("error %v, want one containing %q", err, tc.error)
			}
		})
	}
}

// TestTilesInCSPAndConfig: a tile server's origin (and nothing else of
// its URL) joins img-src; config.json tells the map page the template.
func TestTilesInCSPAndConfig(t *testing.T) {
	for _, tc := range []struct {
		tiles, imgSrc string
	}{
		{"", "img-src 'self' data:;"},
		{"/tiles/{z}/{x}/{y}.png", "img-src 'self' data:;"},
		{"https://tiles.example.org/osm/{z}/{x}/{y}.png?key=abc", "img-src 'self' data: https://tiles.example.org;"},
		{"https://{s}.tile.example.org/{z}/{x}/{y}.png", "img-src 'self' data: https://*.tile.example.org;"},
	} {
		cfg := Config{Map: MapConfig{Tiles: tc.tiles, Attribution: "© Example"}}
		w := get(t, Handler(cfg), "GET", "/console/config.json", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("config.json: status %d", w.Code)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, tc.imgSrc) || strings.Contains(csp, "key=abc") {
			t.Errorf("tiles %q: CSP %q, want %q", tc.tiles, csp, tc.imgSrc)
		}
		var got struct {
			Map struct {
				Tiles, Attribution string
				MaxZoom            int
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Map.Tiles != tc.tiles || got.Map.Attribution != "© Example" || got.Map.MaxZoom != 19 {
			t.Errorf("tiles %q: config.json %+v", tc.tiles, got.Map)
		}
	}
}
