package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

// fleetKeys makes the hub's fleet signing key: the hub's config part
// (fleet.signingKey) and the agent's (control.trustedKeys with its public
// key), as docs/security.md describes.
func fleetKeys(t testing.TB, dir string) (hubYAML, agentYAML, pub string) {
	t.Helper()
	kp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ = kp.PublicKey()
	file := filepath.Join(dir, "hub-fleet.nk")
	if err := os.WriteFile(file, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("fleet: {signingKey: %q}", file), fmt.Sprintf("control: {trustedKeys: [%q]}", pub), pub
}

// send sends a JSON request with the admin's (or the given) credentials and decodes the answer.
func (s *stack) send(t testing.TB, method, path string, body any, headers map[string]string, v any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, s.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if headers == nil {
		headers = s.auth
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	code, err := doJSON(http.DefaultClient, req, v)
	if err != nil {
		t.Fatalf("%s %s: %d, %v", method, path, code, err)
	}
	return code
}

// fleetReply is the API's answer to a fleet control request.
type fleetReply struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Data    struct {
		Result   string                                          `json:"result"`
		Version  string                                          `json:"version"`
		Previous string                                          `json:"previous"`
		Settings map[string]any                                  `json:"settings"`
		Map      struct{ Version, Pusher, Key, Previous string } `json:"map"`
		DryRun   []struct{ Slave, Variable, Error string }       `json:"dryRun"`
		Error    *struct {
			Code    string   `json:"code"`
			Details []string `json:"details"`
		} `json:"error"`
	} `json:"data"`
}

// TestFleetControlREST pushes maps to a real agent through the hub's REST
// API: the hub signs with fleet.signingKey, the agent trusts that key. A dry
// run reads a new variable and changes nothing, an invalid map comes back
// with the agent's validation errors, a push changes the version the
// heartbeats report (pushed by the logged-in user, signed by the hub's
// key), and a rollback restores the previous one. The heartbeats' figures
// are in the history of system/edges/edge1 for admins only.
func TestFleetControlREST(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	hubYAML, agentYAML, pub := fleetKeys(t, dir)
	s := startStackWith(t, stackOptions{period: 0.5, hubYAML: hubYAML, agentYAML: agentYAML})
	edgeRecord := func() (state, version, pusher string) {
		var rec struct {
			Data struct{ State, MapVersion, MapPusher string } `json:"data"`
		}
		if code, err := s.get("/api/v2/system/edges/edge1", &rec); err != nil || code != 200 {
			return "", "", ""
		}
		return rec.Data.State, rec.Data.MapVersion, rec.Data.MapPusher
	}
	eventually(t, 60*time.Second, 100*time.Millisecond, "edge1 online", func() bool { st, _, _ := edgeRecord(); return st == "online" })

	var key struct {
		Data struct {
			PublicKey string `json:"publicKey"`
		} `json:"data"`
	}
	if code := s.send(t, "GET", "/api/v2/fleet/key", nil, nil, &key); code != 200 || key.Data.PublicKey != pub {
		t.Fatalf("fleet key: %d %+v, want %s", code, key, pub)
	}
	var cur fleetReply
	if code := s.send(t, "GET", "/api/v2/fleet/edges/edge1/map", nil, nil, &cur); code != 200 || cur.Data.Map.Version == "" {
		t.Fatalf("map get: %d %+v", code, cur)
	}
	v1 := cur.Data.Map.Version
	settings := cur.Data.Settings
	maps := settings["modbusMaps"].(map[string]any)
	maps["METER"] = append(maps["METER"].([]any), map[string]any{"name": "voltage2", "type": "input", "address": 2, "datatype": "32float"})

	// dry run: the new variable is read once, nothing changes
	var dry fleetReply
	if code := s.send(t, "POST", "/api/v2/fleet/edges/edge1/map", map[string]any{"settings": settings, "dryRun": true}, nil, &dry); code != 200 || dry.Data.Result != "dry_run" {
		t.Fatalf("dry run: %d %+v", code, dry)
	}
	if len(dry.Data.DryRun) != 1 || dry.Data.DryRun[0].Variable != "voltage2" || dry.Data.DryRun[0].Error != "" {
		t.Errorf("dry-run readings: %+v, want voltage2 read", dry.Data.DryRun)
	}

	// invalid: a slave naming a map that does not exist
	bad := map[string]any{"modbusMaps": settings["modbusMaps"], "period": 1,
		"modbusSlaves": []any{map[string]any{"ip": "127.0.0.1", "port": 1502, "slaveId": 1, "map": "NOPE", "document": map[string]any{"layer": "site", "collection": "hvac", "id": "X"}}}}
	var refused fleetReply
	if code := s.send(t, "POST", "/api/v2/fleet/edges/edge1/map", map[string]any{"settings": bad}, nil, &refused); code != 422 ||
		refused.Data.Error == nil || refused.Data.Error.Code != "invalid_settings" || !strings.Contains(refused.Message, "NOPE") {
		t.Fatalf("invalid map: %d %+v, want 422 with the agent's validation errors", code, refused)
	}

	// push, confirmed after the first cycles: the heartbeats report the new version, pushed by admin
	var pushed fleetReply
	if code := s.send(t, "POST", "/api/v2/fleet/edges/edge1/map", map[string]any{"settings": settings, "confirm": true}, nil, &pushed); code != 200 ||
		pushed.Data.Result != "confirmed" || pushed.Data.Version == v1 || pushed.Data.Previous != v1 {
		t.Fatalf("push: %d %+v, want confirmed with a new version after %s", code, pushed, v1)
	}
	v2 := pushed.Data.Version
	eventually(t, 20*time.Second, 100*time.Millisecond, "edge1's heartbeat reports the pushed map", func() bool {
		_, v, p := edgeRecord()
		return v == v2 && p == "admin"
	})
	var now fleetReply
	if s.send(t, "GET", "/api/v2/fleet/edges/edge1/map", nil, nil, &now); now.Data.Map.Key != pub || now.Data.Map.Pusher != "admin" {
		t.Errorf("running map: %+v, want pushed by admin with key %s", now.Data.Map, pub)
	}

	// rollback restores v1
	var back fleetReply
	if code := s.send(t, "POST", "/api/v2/fleet/edges/edge1/map/rollback", nil, nil, &back); code != 200 || back.Data.Version != v1 {
		t.Fatalf("rollback: %d %+v, want version %s", code, back, v1)
	}
	eventually(t, 20*time.Second, 100*time.Millisecond, "edge1's heartbeat reports the restored map", func() bool {
		_, v, _ := edgeRecord()
		return v == v1
	})

	// heartbeat history: admins read it, a user with only site=read may not
	var hist struct {
		Data []struct {
			Field  string  `json:"field"`
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	path := "/api/v2/history/system/edges/edge1?fields=measurements.online,measurements.slavesTotal&from=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if code := s.send(t, "GET", path, nil, nil, &hist); code != 200 || len(hist.Data) != 2 {
		t.Fatalf("heartbeat history: %d %+v", code, hist)
	}
	for _, se := range hist.Data {
		want := map[string]float64{"measurements.online": 1, "measurements.slavesTotal": 2}[se.Field]
		if len(se.Points) < 2 || se.Points[len(se.Points)-1][1] != want {
			t.Errorf("%s: points %v, want at least 2 heartbeats ending at %v", se.Field, se.Points, want)
		}
	}
	var added map[string]any
	if code := s.send(t, "POST", "/api/v2/users", map[string]any{"username": "bob", "password": "bob-password-1", "grants": map[string]any{"site": "read"}}, nil, &added); code != 200 {
		t.Fatalf("add bob: %d %v", code, added)
	}
	var login struct {
		Data struct{ AuthToken, UserID string } `json:"data"`
	}
	s.send(t, "POST", "/api/v2/login", map[string]any{"user": "bob", "password": "bob-password-1"}, map[string]string{}, &login)
	bob := map[string]string{"X-User-ID": login.Data.UserID, "X-Auth-Token": login.Data.AuthToken}
	var denied map[string]any
	if code := s.send(t, "GET", path, nil, bob, &denied); code != 403 {
		t.Errorf("bob reads the heartbeat history: %d %v, want 403", code, denied)
	}
	if code := s.send(t, "POST", "/api/v2/fleet/edges/edge1/map/rollback", nil, bob, &denied); code != 403 {
		t.Errorf("bob rolls back: %d %v, want 403", code, denied)
	}
}
