package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loginAt logs the e2e admin in at a hub's REST API and returns the
// authentication headers.
func loginAt(t *testing.T, base string) map[string]string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": "admin", "password": "e2e-admin-password"})
	resp, err := http.Post(base+"/api/v2/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Data struct{ UserID, AuthToken string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Data.AuthToken == "" {
		t.Fatalf("login at %s: %d %v", base, resp.StatusCode, err)
	}
	return map[string]string{"X-User-ID": env.Data.UserID, "X-Auth-Token": env.Data.AuthToken}
}

// TestCLIFederation runs two hub processes federated over a leaf-node link
// (dso exports its grid layer, city imports it as dso-grid) and reads
// their peers with `gridedge federation ls` and their /metrics.
func TestCLIFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two hub processes; skipped with -short")
	}
	dir := t.TempDir()
	dsoHTTP, dsoLeaf, cityHTTP := freePort(t), freePort(t), freePort(t)
	link := "credentials: {user: city-link, password: a-long-city-link-secret}"
	dsoCfg := writeFile(t, dir, "dso.yaml", fmt.Sprintf(`
domain: dso
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats: {listen: "off", leafListen: "127.0.0.1:%d"}
layers:
  - _id: grid
    collections: [{name: substations}]
federation:
  peers:
    - name: city
      %s
      export: [{layer: grid}]
`, filepath.Join(dir, "dso"), dsoHTTP, dsoLeaf, link))
	cityCfg := writeFile(t, dir, "city.yaml", fmt.Sprintf(`
domain: city
dataDir: %s
http: {listen: "127.0.0.1:%d"}
nats: {listen: "off", leafListen: "off"}
federation:
  peers:
    - name: dso
      url: "nats-leaf://127.0.0.1:%d"
      %s
      import: [{layer: grid, as: dso-grid}]
`, filepath.Join(dir, "city"), cityHTTP, dsoLeaf, link))
	startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", dsoCfg)
	startEnv(t, []string{adminPasswordEnv}, "gridedge-hub", "--config", cityCfg)
	dso, city := fmt.Sprintf("http://127.0.0.1:%d", dsoHTTP), fmt.Sprintf("http://127.0.0.1:%d", cityHTTP)
	for _, h := range []string{dso, city} {
		eventually(t, 60*time.Second, 50*time.Millisecond, "the REST API of "+h, func() bool {
			var v map[string]any
			code, err := getJSON(h+"/api/v2/health", &v)
			return err == nil && code == 200
		})
	}

	// a substation written at dso
	hdr := loginAt(t, dso)
	req, _ := http.NewRequest("POST", dso+"/api/v2/grid/substations", strings.NewReader(`[{"_id":"s1","kv":20}]`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("insert at dso: %s", resp.Status)
	}

	env := []string{"GRIDEDGE_USER=admin", "GRIDEDGE_PASSWORD=e2e-admin-password", "GRIDEDGE_TOKEN="}
	type layer struct {
		From    string  `json:"from"`
		Applied float64 `json:"applied"`
	}
	var peers []struct {
		Peer     string           `json:"peer"`
		Link     string           `json:"link"`
		Exported float64          `json:"exported"`
		Applied  float64          `json:"applied"`
		Imports  map[string]layer `json:"imports"`
	}
	eventually(t, 60*time.Second, 250*time.Millisecond, "city to list dso, link up, s1 applied into dso-grid", func() bool {
		code, out, _ := gridedge(t, env, "federation", "ls", "--json", "--hub", city)
		peers = nil
		return code == 0 && json.Unmarshal([]byte(out), &peers) == nil && len(peers) == 1 && peers[0].Peer == "dso" &&
			peers[0].Link == "up" && peers[0].Applied == 1 && peers[0].Imports["dso-grid"] == layer{From: "grid", Applied: 1}
	})
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last federation ls at dso: %s", last)
		}
	})
	eventually(t, 30*time.Second, 250*time.Millisecond, "dso to list city with 1 change exported", func() bool {
		code, out, _ := gridedge(t, env, "federation", "ls", "--json", "--hub", dso)
		last, peers = out, nil
		return code == 0 && json.Unmarshal([]byte(out), &peers) == nil && len(peers) == 1 && peers[0].Peer == "city" &&
			peers[0].Link == "up" && peers[0].Exported == 1 && len(peers[0].Imports) == 0
	})

	code, out, errOut := gridedge(t, env, "federation", "ls", "--hub", city)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "PEER") || !strings.Contains(lines[0], "LAG") {
		t.Fatalf("federation ls at city: exit %d\n%s%s", code, out, errOut)
	}
	if f := strings.Fields(lines[1]); len(f) < 10 || f[0] != "dso" || f[1] != "up" || f[4] != "1" || f[7] != "dso-grid" || f[8] != "dso:grid" {
		t.Errorf("federation ls row at city: %q", lines[1])
	}

	// the same figures on city's /metrics
	fams, err := scrapeMetrics(t, city+"/metrics", loginAt(t, city))
	if err != nil {
		t.Fatal(err)
	}
	if v := metricSum(fams, "gridedge_hub_federation_changes_imported_total", "peer", "dso"); v != 1 {
		t.Errorf("city's gridedge_hub_federation_changes_imported_total{peer=dso} = %v, want 1", v)
	}
	if v := metricSum(fams, "gridedge_hub_federation_import_lag_seconds", "layer", "dso-grid"); v < 0 {
		t.Errorf("city's gridedge_hub_federation_import_lag_seconds{layer=dso-grid} = %v, want a lag", v)
	}

	// refusals: a wrong password (1), a stray argument (2)
	if code, _, errOut := gridedge(t, []string{"GRIDEDGE_USER=admin", "GRIDEDGE_PASSWORD=wrong", "GRIDEDGE_TOKEN="},
		"federation", "ls", "--hub", city); code != 1 || !strings.Contains(errOut, "log in") {
		t.Errorf("federation ls with a wrong password: exit %d, %s", code, errOut)
	}
	if code, _, _ := gridedge(t, env, "federation", "ls", "--hub", city, "extra"); code != 2 {
		t.Errorf("federation ls with an argument: exit %d, want 2", code)
	}
}
