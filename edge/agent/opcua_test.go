package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/opcua/opcuatest"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
)

// OPC-UA readings take the Modbus readings' pipeline: a bad-data rule
// flags the subscribed temperature, and the update reaches the buffer and
// the live bus under the configured document, with the server's source
// timestamp; the heartbeat shows the OPC-UA connection.
func TestOPCUAReadingsTakeThePipeline(t *testing.T) {
	srv := opcuatest.Start(t)
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, freePort(t)))
	natsPort := freePort(t)
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
opcua:
  servers:
    - url: %s
      publishingInterval: 100ms
      documents:
        - document: {layer: plant, collection: boilers, id: B1}
          measurements:
            - {name: temperature, nodeId: "ns=2;s=Plant.Temperature"}
            - {name: label, nodeId: "ns=2;s=Plant.Label", mode: poll}
`, filepath.Join(dir, "data"), natsPort, srv.URL())))
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
	live, err := nc.SubscribeSync(subject.Live("t", "e1", "plant", "boilers", "B1"))
	if err != nil {
		t.Fatal(err)
	}
	var temp, label map[string]any
	for deadline := time.Now().Add(10 * time.Second); temp == nil || label == nil; {
		msg, err := live.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("no live OPC-UA reading with both measurements: %v", err)
		}
		var u model.Update
		if err := json.Unmarshal(msg.Data, &u); err != nil {
			t.Fatal(err)
		}
		if m, ok := u.Set["measurements.temperature"].(map[string]any); ok && m["value"] != nil {
			temp = m
		}
		if m, ok := u.Set["measurements.label"].(map[string]any); ok && m["value"] != nil {
			label = m
		}
	}
	if temp["value"] != 21.5 || temp["quality"] != float64(model.QualitySuspect) {
		t.Errorf("temperature %v: want 21.5 flagged suspect (%d) by the rule", temp, model.QualitySuspect)
	}
	if label["value"] != "Kessel" || label["quality"] != float64(model.QualityGood) {
		t.Errorf("label %v: want Kessel, good", label)
	}
	ts, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(temp["timestamp"]))
	if time.Since(ts) < 0 || time.Since(ts) > time.Minute {
		t.Errorf("temperature timestamp %v: want the server's source timestamp", temp["timestamp"])
	}
	st, err := a.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.OPCUA) != 1 || !st.OPCUA[0].Connected || st.OPCUA[0].Subscribed != 1 || st.Buffer.Depth == 0 {
		t.Fatalf("status opcua %+v, buffer %+v: want one connected server, 1 monitored item, buffered updates", st.OPCUA, st.Buffer)
	}
}

func TestOPCUAConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, 1502))
	base := "edge: {id: e}\nsettingsFile: settings.json\nopcua:\n  servers:\n"
	doc := "      documents: [{document: {layer: plant, collection: boilers, id: B1}, measurements: [{name: t, nodeId: 'ns=2;s=T'}]}]\n"
	tests := []struct{ cfg, want string }{
		{base + "    - url: http://x\n" + doc, "opcua.servers[0].url"},
		{base + "    - url: opc.tcp://x:4840\n      security: {policy: Basic256}\n" + doc, "opcua.servers[0].security.policy"},
		{base + "    - url: opc.tcp://x:4840\n      security: {policy: Basic256Sha256, certFile: c.der, keyFile: c.pem}\n" + doc, "trustedCerts or caFile is required"},
		{base + "    - url: opc.tcp://x:4840\n      identity: {type: username, username: u, password: p}\n" + doc, "in the clear"},
		{base + "    - url: opc.tcp://x:4840\n      documents: [{document: {layer: plant, collection: boilers, id: B1}, measurements: [{name: t, nodeId: 'x=1'}]}]\n", "opcua.servers[0].documents[0].measurements[0].nodeId"},
		{base + "    - url: opc.tcp://x:4840\n      documents: [{document: {layer: plant, collection: boilers, id: B1}, measurements: [{name: t, nodeId: 'ns=2;s=T', mode: push}]}]\n", "measurements[0].mode"},
		{base + "    - url: opc.tcp://x:4840\n      documents: [{document: {layer: plant, collection: boilers, id: B1}, measurements: [{name: t, nodeId: 'ns=2;s=T', deadband: -1}]}]\n", "measurements[0].deadband"},
		{base + "    - url: opc.tcp://x:4840\n" + doc + "    - url: opc.tcp://y:4840\n" + doc, "also fed by"},
		{base + "    - url: opc.tcp://x:4840\n      colour: red\n" + doc, "colour: unknown field"},
	}
	for i, tt := range tests {
		_, err := Load(write(t, dir, fmt.Sprintf("c%d.yaml", i), tt.cfg))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %q: error %v, want it to name %q", tt.cfg, err, tt.want)
		}
	}
	// relative certificate files are resolved against the config's directory
	cfg, err := Load(write(t, dir, "ok.yaml", base+"    - url: opc.tcp://x:4840\n"+
		"      security: {policy: Basic256Sha256, certFile: c.der, keyFile: c.pem, trustedCerts: [s.der]}\n"+doc))
	if err != nil {
		t.Fatal(err)
	}
	sec := cfg.OPCUA.Servers[0].Security
	if sec.CertFile != filepath.Join(dir, "c.der") || sec.TrustedCerts[0] != filepath.Join(dir, "s.der") || sec.Mode != "SignAndEncrypt" {
		t.Errorf("security %+v: want files under %s and mode SignAndEncrypt", sec, dir)
	}
}

// The example of docs/opcua.md is a valid opcua section.
func TestOPCUADocExampleIsValid(t *testing.T) {
	doc, err := os.ReadFile("../../docs/opcua.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/opcua.md has no yaml example")
	}
	dir := t.TempDir()
	write(t, dir, "settings.json", fmt.Sprintf(settingsDoc, 1502))
	cfg, err := Load(write(t, dir, "agent.yaml", "edge: {id: e}\nsettingsFile: settings.json\n"+example))
	if err != nil {
		t.Fatalf("docs/opcua.md example: %v", err)
	}
	s := cfg.OPCUA.Servers[0]
	if s.Name != "boiler-plc" || s.Documents[0].Measurements[0].Deadband != 0.2 || s.Documents[0].Measurements[1].Mode != "poll" {
		t.Errorf("example decoded as %+v", s)
	}
}
