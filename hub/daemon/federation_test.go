package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
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
	a, b := startFederatedHubs(t)
	aBase, aHdr := loginAdmin(t, a)
	bBase, bHdr := loginAdmin(t, b)
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

// startFederatedHubs starts two hubs: "dso" exports its grid layer
// (collection substations) to "city", which imports it as dso-grid over a
// leaf-node link it opens.
func startFederatedHubs(t *testing.T) (a, b *Hub) {
	t.Helper()
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
	t.Cleanup(a.Close)

	bCfg := testConfig(t, t.TempDir())
	bCfg.Domain = "city"
	bCfg.Federation = federation.Config{Peers: []federation.Peer{{Name: "dso", URL: a.LeafURL(), Credentials: creds,
		Import: []federation.Import{{Grant: federation.Grant{Layer: "grid"}, As: "dso-grid"}}}}}
	if err := bCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err = Start(context.Background(), bCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return a, b
}

// loginAdmin logs the admin in at h and returns the API's base URL and
// the authentication headers.
func loginAdmin(t *testing.T, h *Hub) (string, map[string]string) {
	t.Helper()
	base := "http://" + h.HTTPAddr() + "/api/v2"
	code, m := call(t, "POST", base+"/login", map[string]any{"user": "admin", "password": "demo-admin-password"}, nil)
	if code != 200 {
		t.Fatalf("login: %d %v", code, m)
	}
	d := m["data"].(map[string]any)
	return base, map[string]string{"X-User-ID": d["userId"].(string), "X-Auth-Token": d["authToken"].(string)}
}

// TestFederationHistoryFollows: a measurement written at dso, inserted and
// then updated, enters city's history of the renamed layer (the importer
// writes through the hub's history recorder), with the timestamps and
// values written at dso.
func TestFederationHistoryFollows(t *testing.T) {
	a, b := startFederatedHubs(t)
	aBase, aHdr := loginAdmin(t, a)
	bBase, bHdr := loginAdmin(t, b)

	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	t1 := t0.Add(10 * time.Second)
	measurement := func(v float64, at time.Time) map[string]any {
		return map[string]any{"value": v, "quality": 1, "timestamp": at.Format(time.RFC3339Nano)}
	}
	if code, m := call(t, "POST", aBase+"/grid/substations", map[string]any{"_id": "S1",
		"measurements": map[string]any{"activePower": measurement(42.5, t0)}}, aHdr); code != 200 {
		t.Fatalf("insert at dso: %d %v", code, m)
	}
	// the update is sent once the insert arrived, so that both reach city
	// as separate changes (a group keeps only the last state of a document)
	deadline := time.Now().Add(30 * time.Second)
	waitHub := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitHub("S1 at city", func() bool {
		code, _ := call(t, "GET", bBase+"/dso-grid/substations/S1", nil, bHdr)
		return code == 200
	})
	if code, m := call(t, "PATCH", aBase+"/grid/substations/S1", map[string]any{"$set": map[string]any{
		"measurements.activePower": measurement(43.5, t1)}}, aHdr); code != 200 {
		t.Fatalf("update at dso: %d %v", code, m)
	}
	want := []any{map[string]any{"_id": "S1", "field": "measurements.activePower", "points": []any{
		[]any{t0.Format("2006-01-02T15:04:05.000Z"), 42.5, 1.0}, []any{t1.Format("2006-01-02T15:04:05.000Z"), 43.5, 1.0}}}}
	path := fmt.Sprintf("%s/history/dso-grid/substations/S1?fields=measurements.activePower&from=%d&to=%d",
		bBase, t0.Add(-time.Second).UnixMilli(), t1.Add(time.Second).UnixMilli())
	var got any
	waitHub("both points in city's history", func() bool {
		code, m := call(t, "GET", path, nil, bHdr)
		got = m["data"]
		return code == 200 && reflect.DeepEqual(got, want)
	})
	// the imported write is the only way in: dso's own history holds the
	// same two points under its own layer name
	code, m := call(t, "GET", strings.Replace(path, bBase+"/history/dso-grid", aBase+"/history/grid", 1), nil, aHdr)
	if code != 200 || !reflect.DeepEqual(m["data"], want) {
		t.Fatalf("dso's history: %d %v, want %v", code, m["data"], want)
	}
}
