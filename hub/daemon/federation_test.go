package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/federation"
	"github.com/gridedge/gridedge/hub/store"
)

// TestFederationBetweenHubs starts two hubs: "dso" exports its grid layer
// to "city", which imports it as dso-grid. A REST insert at dso shows up at
// city, city's users cannot write into dso-grid (403), and
// system/federation/dso reports the link.
func TestFederationBetweenHubs(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv(EnvAdminPassword, "demo-admin-password")
	creds := federation.Credentials{User: "city-link", Password: "a-long-city-link-secret"}

	aCfg := testConfig(t, t.TempDir())
	aCfg.Domain = "dso"
	aCfg.Layers = append(aCfg.Layers, store.Layer{ID: "grid", Collections: []store.Collection{{Name: "substations"}}})
	aCfg.Federation = federation.Config{Peers: []federation.Peer{{Name: "city", Credentials: creds,
		Export: []federation.Grant{{Layer: "grid"}}}}}
	if err := aCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := Start(context.Background(), aCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	bCfg := testConfig(t, t.TempDir())
	bCfg.Domain = "city"
	bCfg.Federation = federation.Config{Peers: []federation.Peer{{Name: "dso", URL: a.LeafURL(), Credentials: creds,
		Import: []federation.Import{{Grant: federation.Grant{Layer: "grid"}, As: "dso-grid"}}}}}
	if err := bCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := Start(context.Background(), bCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	login := func(h *Hub) (string, map[string]string) {
		base := "http://" + h.HTTPAddr() + "/api/v2"
		code, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
		if code != 200 {
			t.Fatalf("login: %d %v", code, m)
		}
		d := m["data"].(map[string]any)
		return base, map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
	}
	aBase, aHdr := login(a)
	bBase, bHdr := login(b)
	if code, m := call(t, "POST", aBase+"/grid/substations", map[string]any{"_id": "S1", "kv": 110}, aHdr); code != 200 {
		t.Fatalf("insert at dso: %d %v", code, m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, m := call(t, "GET", bBase+"/dso-grid/substations/S1", nil, bHdr)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("S1 never reached city: %d %v", code, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, m := call(t, "POST", bBase+"/dso-grid/substations", map[string]any{"_id": "S2"}, bHdr)
	if code != 403 || !strings.Contains(strings.ToLower(m["message"].(string)), "read-only") {
		t.Fatalf("write into the imported layer: %d %v, want 403 read-only", code, m)
	}
	for {
		code, m := call(t, "GET", bBase+"/system/federation/dso", nil, bHdr)
		if code == 200 {
			if d, _ := m["data"].(map[string]any); d["link"] == "up" && d["applied"] == 1.0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("system/federation/dso at city: %d %v", code, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
