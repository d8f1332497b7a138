package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// FuzzConfig decodes arbitrary agent config files and resolves them (the
// SETTINGS file named by settingsFile is always the test's own): it never
// panics or hangs, and an accepted config stays valid when defaulted again.
func FuzzConfig(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), fmt.Appendf(nil, settingsDoc, 1502), 0o600); err != nil {
		f.Fatal(err)
	}
	if data, err := os.ReadFile("../../examples/demo/agent.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"edge: {id: e}\nsettingsFile: settings.json\n",
		"edge: {id: e}\nsettingsFile: settings.json\nhub: {url: 'tls://hub:7422', password: pw-secret, requireTLS: true, caFile: ca.pem, certFile: e.pem, keyFile: e.key}\nnats: {listen: ':4223', tls: {certFile: b.pem, keyFile: b.key}}\n",
		"edge: {id: e}\nsettingsFile: settings.json\nbuffer: {maxAge: 1h, overflow: reject-new}\nforwarder: {maxBatch: 10, ackTimeout: 2s}\nheartbeat: {interval: 1s}\n",
		`{"edge":{"id":"e"},"settings":{"modbusMaps":{"M":[{"name":"t","type":"holding","address":1,"datatype":"16uint"}]},"modbusSlaves":[{"ip":"h","slaveId":1,"map":"M"}]},"rules":[],"mappings":{}}`,
		"{", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(5*time.Second, func() { panic(fmt.Sprintf("hung on %q", data)) })
		defer watchdog.Stop()
		var c Config
		if err := config.Decode(data, &c); err != nil {
			return
		}
		if c.SettingsFile != "" {
			c.SettingsFile = "settings.json" // never read arbitrary files
		}
		if err := c.Resolve(dir); err != nil {
			return
		}
		c.Defaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("an accepted config is invalid after defaulting again: %v", err)
		}
	})
}
