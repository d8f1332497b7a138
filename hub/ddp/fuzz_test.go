package ddp

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzDecodeMessage: the decoder never panics, accepts only known
// messages, and whatever it decoded re-encodes (offendingMessage) as
// valid JSON.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"msg":"connect","version":"1","support":["1","pre2"]}`,
		`{"msg":"sub","id":"1","name":"demo_meters.find","params":[{"a":{"$gt":1}},{"limit":3}]}`,
		`{"msg":"method","id":"2","method":"insert","params":["demo_m",{"t":{"$date":1714557600000},"b":{"$binary":"AAE="},"e":{"$escape":{"$date":1}}}]}`,
		`{"msg":"ping","id":"x"}`, `{"msg":"unsub","id":"1"}`, `{"msg":`, `[]`, `null`, `{"msg":3}`,
		`{"msg":"method","id":"1","method":"m","params":[{"$InfNaN":-1},{"$type":"oid","$value":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	known := []string{"connect", "ping", "pong", "sub", "unsub", "method"}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err == nil && !slices.Contains(known, m.Msg) {
			t.Fatalf("accepted msg %q", m.Msg)
		}
		if m.Raw != nil {
			if out := appendEJSON(nil, m.Raw); !json.Valid(out) {
				t.Fatalf("re-encoded %q as invalid JSON %q", data, out)
			}
		}
		for _, p := range m.Params {
			if out := appendEJSON(nil, p); !json.Valid(out) {
				t.Fatalf("param re-encoded as invalid JSON %q", out)
			}
		}
	})
}
