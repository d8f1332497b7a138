package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// deviceToken is the Smart Citizen style token of kit1; the agent config
// holds only its hash.
const deviceToken = "e2e-kit1-token"

// devicesYAML is the agent's devices section: a config group with an
// expression attribute and a static attribute, and a device with a token
// whose entity is a document of the layer kits (made by the test).
func devicesYAML(httpPort int) string {
	sum := sha256.Sum256([]byte(deviceToken))
	return fmt.Sprintf(`
devices:
  service: kits
  http: {listen: "127.0.0.1:%d"}
  groups:
    - apikey: e2ekey
      resource: /iot/json
      entity_type: sensors
      attributes:
        - {object_id: t, name: temperature, type: Number, expression: "t * 10"}
      static_attributes:
        - {name: location, type: Text, value: substation-7}
  devices:
    - device_id: kit1
      entity_name: KIT1
      entity_type: sensors
      apikey: e2ekey
      token_hash: %s
`, httpPort, hex.EncodeToString(sum[:]))
}

// postReading posts an IoT Agent JSON measurement to the agent's device
// listener and returns the status and body.
func postReading(t *testing.T, port int, query, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/iot/json?%s", port, query), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Device-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDeviceReadingsReachHub: a device pushes IoT Agent JSON to the edge
// agent's HTTP listener (edge/iot); the readings take the agent's pipeline
// (the group's expression, its static attribute, the device's TimeInstant),
// its buffer and the leaf link, and arrive in the hub's store and history,
// where REST serves them with the device's timestamps. A wrong token and an
// unknown apikey are refused at the edge and nothing of theirs arrives.
func TestDeviceReadingsReachHub(t *testing.T) {
	skipShort(t)
	devPort := freePort(t)
	s := startStackWith(t, stackOptions{period: 1, agentYAML: devicesYAML(devPort)})
	// the devices' layer (the service kits), as an admin makes it
	req, _ := http.NewRequest(http.MethodPost, s.url("/api/v2/layers"),
		strings.NewReader(`{"_id":"kits","label":"IoT kits","collections":[{"name":"sensors"}]}`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range s.auth {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /layers: %d %s", resp.StatusCode, b)
	}
	q := url.Values{"k": {"e2ekey"}, "i": {"kit1"}}.Encode()
	eventually(t, 60*time.Second, 50*time.Millisecond, "the agent's device listener", func() bool {
		code, _ := postReading(t, devPort, q, "wrong-token", `{"t":0}`)
		return code != 0
	})

	// refused at the edge: a wrong token, an unknown apikey, malformed JSON
	for _, tc := range []struct{ name, query, token, body string }{
		{"wrong token", q, "wrong-token", `{"t":99}`},
		{"no token", q, "", `{"t":99}`},
		{"unknown apikey", url.Values{"k": {"nokey"}, "i": {"kit1"}}.Encode(), deviceToken, `{"t":99}`},
		{"malformed JSON", q, deviceToken, `{"t":`},
	} {
		if code, body := postReading(t, devPort, tc.query, tc.token, tc.body); code < 400 || code >= 500 {
			t.Errorf("%s: got %d %s, want a 4xx refusal", tc.name, code, body)
		}
	}

	// five readings with the device's own timestamps
	base := time.Now().Add(-10 * time.Second).UTC().Truncate(time.Millisecond)
	for i := 1; i <= 5; i++ {
		body := fmt.Sprintf(`{"t":%d,"TimeInstant":%q}`, i, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
		if code, resp := postReading(t, devPort, q, deviceToken, body); code/100 != 2 {
			t.Fatalf("reading %d: got %d %s, want 2xx", i, code, resp)
		}
	}

	// the store: the latest reading, transformed, with the static attribute
	var doc struct {
		Status string         `json:"status"`
		Data   map[string]any `json:"data"`
	}
	eventually(t, 60*time.Second, 50*time.Millisecond, "KIT1's last reading at the hub", func() bool {
		code, err := s.get("/api/v2/kits/sensors/KIT1", &doc)
		if err != nil || code != 200 {
			return false
		}
		ms, _ := doc.Data["measurements"].(map[string]any)
		m, _ := ms["temperature"].(map[string]any)
		v, _ := m["value"].(float64)
		return v == 50
	})
	if doc.Data["location"] != "substation-7" {
		t.Errorf("static attribute location = %v, want substation-7 (document %v)", doc.Data["location"], doc.Data)
	}

	// the history: every reading, at the device's times, none refused
	var hist struct {
		Status string `json:"status"`
		Data   []struct {
			ID     string  `json:"_id"`
			Field  string  `json:"field"`
			Points [][]any `json:"points"`
		} `json:"data"`
	}
	params := url.Values{"fields": {"measurements.temperature"}, "from": {base.Add(-time.Minute).Format(time.RFC3339Nano)},
		"to": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)}}.Encode()
	eventually(t, 30*time.Second, 100*time.Millisecond, "KIT1's five readings in the history", func() bool {
		code, err := s.get("/api/v2/history/kits/sensors/KIT1?"+params, &hist)
		return err == nil && code == 200 && len(hist.Data) == 1 && len(hist.Data[0].Points) >= 5
	})
	pts := hist.Data[0].Points
	if hist.Data[0].ID != "KIT1" || hist.Data[0].Field != "measurements.temperature" || len(pts) != 5 {
		t.Fatalf("history %+v, want KIT1's measurements.temperature with 5 points", hist.Data)
	}
	for i, p := range pts {
		want := float64(10 * (i + 1))
		ts, _ := p[0].(string)
		at, err := time.Parse(time.RFC3339Nano, ts)
		if v, _ := p[1].(float64); v != want || err != nil || !at.Equal(base.Add(time.Duration(i+1)*time.Second)) {
			t.Errorf("history point %d = %v, want value %g at %s (the device's TimeInstant)", i, p, want, base.Add(time.Duration(i+1)*time.Second).Format(time.RFC3339Nano))
		}
	}
}
