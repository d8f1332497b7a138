package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// TestForecastMounted: the hub serves the forecast paths with its
// credentials, and forecast.enabled false removes them.
func TestForecastMounted(t *testing.T) {
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, enabled := range []bool{true, false} {
		cfg := testConfig(t, t.TempDir())
		cfg.Forecast.Enabled = &enabled
		h, err := Start(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		base := "http://" + h.HTTPAddr() + "/api/v2"
		if code, m := call(t, "POST", base+"/forecast/model", map[string]any{"name": "x"}, nil); enabled && code != 401 {
			t.Errorf("enabled, no credentials: got %d %v, want 401", code, m)
		}
		_, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
		d := m["data"].(map[string]any)
		hdr := map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
		code, m := call(t, "POST", base+"/forecast/model", map[string]any{"name": "x"}, hdr)
		if enabled && (code != 200 || m["status"] != "untrained") {
			t.Errorf("enabled, admin: got %d %v, want 200 untrained", code, m)
		}
		if !enabled && code != 404 {
			t.Errorf("disabled: got %d %v, want 404", code, m)
		}
		h.Close()
	}
}
