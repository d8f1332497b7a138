package auth

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
)

func TestApps(t *testing.T) {
	ctx := context.Background()
	s, st, clk := bootstrapped(t, Options{})
	cases := []struct {
		name string
		app  NewApp
		want string // errClass
	}{
		{"read", NewApp{Name: "grafana", Grants: map[string]Perm{"demo": Read}}, "nil"},
		{"write and bucket", NewApp{Name: "scada", Grants: map[string]Perm{"demo": Write, "fs:fs": Read}}, "nil"},
		{"no grants", NewApp{Name: "idle"}, "nil"},
		{"no name", NewApp{Grants: map[string]Perm{"demo": Read}}, "invalid"},
		{"bad grant", NewApp{Name: "x", Grants: map[string]Perm{"a b": Read}}, "invalid"},
	}
	keys := map[string]*AppKey{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, err := s.AddApp(ctx, tc.app, AdminUser)
			if got := errClass(err); got != tc.want {
				t.Fatalf("AddApp: got %s, want %s", got, tc.want)
			}
			if err != nil {
				return
			}
			keys[tc.app.Name] = key
			if len(key.AppID) != 17 || strings.Trim(key.AppID, idAlphabet) != "" {
				t.Errorf("appId: got %q, want 17 characters of the id alphabet", key.AppID)
			}
			if b, err := hex.DecodeString(key.KeyID); err != nil || len(b) != 32 {
				t.Errorf("keyId: got %q, want 32 random bytes in hex", key.KeyID)
			}
			if key.App.ID != key.AppID || key.App.Name != tc.app.Name || key.App.CreatedBy != AdminUser || !key.App.Created.Equal(clk.Now()) {
				t.Errorf("app: got %+v", key.App)
			}
			d, err := st.Get(ctx, SystemLayer, AppsCollection, key.AppID)
			if err != nil {
				t.Fatal(err)
			}
			if d[fieldKeyHash] != hashSecret(key.KeyID) || strings.Contains(strings.Join(mapStrings(d), " "), key.KeyID) {
				t.Errorf("stored app %v: want the key's SHA-256 only, never the key", d)
			}
		})
	}

	apps, err := s.Apps(ctx)
	if err != nil || len(apps) != 3 {
		t.Fatalf("Apps: got %d apps, %v, want 3", len(apps), err)
	}

	// Authenticate with keys: apps get their grants, never admin.
	auths := []struct {
		app, layer string
		want       Perm
	}{
		{"grafana", "demo", Read},
		{"grafana", "other", None},
		{"scada", "demo", Write},
		{"scada", "fs:fs", Read},
		{"idle", "demo", None},
	}
	for _, a := range auths {
		p, err := s.Authenticate(ctx, keys[a.app].AppID, keys[a.app].KeyID)
		if err != nil {
			t.Fatalf("Authenticate(%s): %v", a.app, err)
		}
		if p.Kind != KindApp || p.Admin || p.ID != keys[a.app].AppID || p.TokenHash != "" {
			t.Errorf("principal of %s: got %+v", a.app, p)
		}
		if got := p.Access(a.layer); got != a.want {
			t.Errorf("%s on %s: got %v, want %v", a.app, a.layer, got, a.want)
		}
	}
	wrong := []struct{ name, id, key string }{
		{"wrong key", keys["grafana"].AppID, keys["scada"].KeyID},
		{"key with a suffix", keys["grafana"].AppID, keys["grafana"].KeyID + "0"},
		{"appId as key", keys["grafana"].AppID, keys["grafana"].AppID},
	}
	for _, w := range wrong {
		if _, err := s.Authenticate(ctx, w.id, w.key); errClass(err) != "unauthorized" {
			t.Errorf("%s: got %v, want unauthorized", w.name, err)
		}
	}

	// Delete: the key stops working; a second delete is not found.
	if err := s.DeleteApp(ctx, keys["grafana"].AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, keys["grafana"].AppID, keys["grafana"].KeyID); errClass(err) != "unauthorized" {
		t.Errorf("deleted app: got %v, want unauthorized", err)
	}
	if err := s.DeleteApp(ctx, keys["grafana"].AppID); errClass(err) != "not found" {
		t.Errorf("second DeleteApp: got %v, want not found", err)
	}
	if apps, _ := s.Apps(ctx); len(apps) != 2 {
		t.Errorf("Apps after a delete: got %d, want 2", len(apps))
	}
}
