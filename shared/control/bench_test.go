package control

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigSettings is a SETTINGS document of n slaves sharing 10 maps of 30
// variables, the size of a large substation.
func bigSettings(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"modbusMaps":{`)
	for m := range 10 {
		if m > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"MAP%d":[`, m)
		for v := range 30 {
			if v > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name":"v%d","type":"holding","address":%d,"datatype":"32float","factor":0.1}`, v, 2*v)
		}
		b.WriteString("]")
	}
	b.WriteString(`},"modbusSlaves":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"ip":"10.0.%d.%d","port":502,"slaveId":%d,"map":"MAP%d"}`, i/250, i%250+1, i%247+1, i%10)
	}
	b.WriteString(`],"period":1}`)
	return []byte(b.String())
}

// BenchmarkSignVerifyPush measures what signing costs the CLI and
// verifying costs the agent for a 500-slave document (canonical JSON,
// SHA-256, ed25519).
func BenchmarkSignVerifyPush(b *testing.B) {
	kp := mustKeyB(b)
	pub, _ := kp.PublicKey()
	doc := bigSettings(500)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		r := &PushRequest{Edge: "e1", Settings: json.RawMessage(doc), Pusher: "alice", IssuedAt: time.Now()}
		if err := Sign(kp, r); err != nil {
			b.Fatal(err)
		}
		if err := Verify(r, VerifyOptions{Edge: "e1", Trusted: []string{pub}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapVersion measures the content hash of a 500-slave document.
func BenchmarkMapVersion(b *testing.B) {
	doc := bigSettings(500)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := MapVersion(doc); err != nil {
			b.Fatal(err)
		}
	}
}
