package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// FuzzConfig decodes, defaults and validates arbitrary hub config files:
// it never panics or hangs, and an accepted config, encoded again, is
// accepted again.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile("../../examples/demo/hub.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"nats: {listen: '127.0.0.1:4222', leafListen: ':7422', requireTLS: true, tls: {certFile: c.pem, keyFile: k.pem, caFile: ca.pem}, leafTLS: {certFile: c.pem, keyFile: k.pem}}\n",
		"http: {listen: ':8443', tls: {certFile: c.pem, keyFile: k.pem}, requireTLS: true, trustedProxies: ['10.0.0.0/8']}\n",
		"edges: [{id: e1, password: long-enough, layers: [{layer: demo, collections: [meters]}]}]\ningest: {maxSeqJump: 10, duplicateWindow: 1m}\n",
		"store: {backend: mongo, mongoURI: 'mongodb://x'}\nauth: {tokenTTL: 1h, anonymous: {demo: read}}\n",
		`{"layers":[{"_id":"demo","collections":[{"name":"meters"}]}],"logLevel":"debug"}`,
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
		c.Defaults()
		if err := c.Validate(); err != nil {
			return
		}
		raw, err := json.Marshal(&c)
		if err != nil {
			t.Fatalf("re-encode an accepted config: %v", err)
		}
		var again Config
		if err := config.Decode(raw, &again); err != nil {
			t.Fatalf("decode the re-encoded config: %v\n%s", err, raw)
		}
		again.Defaults()
		if err := again.Validate(); err != nil {
			t.Fatalf("the re-encoded config is invalid: %v\n%s", err, raw)
		}
	})
}
