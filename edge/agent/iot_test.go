package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// A local device's IoT Agent JSON reading takes the agent's pipeline: its
// group's expression, then the agent's bad-data rule (flagging), then the
// buffer and the live bus; a flooding device is limited; the heartbeat
// counts it all.
func TestDeviceReadingsTakeThePipeline(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, freePort(t)))
	natsPort, httpPort := freePort(t), freePort(t)
	cfg, err := Load(write(t, dir, "agent.yaml", fmt.Sprintf(`edge: {id: e1}
domain: t
dataDir: %s
nats: {listen: '127.0.0.1:%d'}
settingsFile: settings.json
heartbeat: {interval: 100ms}
rules:
  - id: warm
    match: {fields: [temperature]}
    detect: {type: range, max: 20}
    actions: [{type: flag}]
devices:
  service: substation
  http: {listen: '127.0.0.1:%d'}
  rateLimit: {perSecond: 1, burst: 2}
  groups:
    - {apikey: k1, resource: /iot/json, entity_type: Thing, attributes: [{object_id: t, name: temperature, type: Number, expression: "t * 10"}]}
`, filepath.Join(dir, "data"), natsPort, httpPort)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	live, err := nc.SubscribeSync(subject.Live("t", "e1", "substation", "Thing", "Thing:d1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	postJSON := func(body string) int {
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/iot/json?k=k1&i=d1", httpPort), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := postJSON(`{"t": 2.5}`); code != 200 {
		t.Fatalf("POST /iot/json: %d", code)
	}
	msg, err := live.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no live reading of the device: %v", err)
	}
	var u model.Update
	if err := json.Unmarshal(msg.Data, &u); err != nil {
		t.Fatal(err)
	}
	m, _ := u.Set["measurements.temperature"].(map[string]any)
	if m["value"] != 25.0 || m["quality"] != float64(model.QualitySuspect) {
		t.Errorf("temperature %v: want 25 (t * 10) flagged suspect (%d) by the agent's rule", m, model.QualitySuspect)
	}
	codes := map[int]int{}
	for range 5 {
		codes[postJSON(`{"t": 1}`)]++
	}
	if codes[429] < 3 {
		t.Errorf("flood answers %v: want 429 once the burst is spent", codes)
	}
	st, err := a.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Devices == nil || st.Devices.Readings < 1 || st.Devices.Limited < 3 || st.Devices.HTTPAddr == "" || st.Buffer.Depth == 0 {
		t.Fatalf("status devices %+v, buffer %+v", st.Devices, st.Buffer)
	}
}
