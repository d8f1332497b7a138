package ddp

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
)

// TestDirectFramesOfEverySize: data frames built straight into the batch
// (clients that do not offer compression) read back intact with each of
// WebSocket's three length encodings.
func TestDirectFramesOfEverySize(t *testing.T) {
	e := newEnv(t, Limits{})
	for _, n := range []int{10, 100, 126, 1000, 65535, 70000} {
		if _, err := e.ws.Insert(context.Background(), "demo", "other",
			[]store.Document{{"_id": fmt.Sprintf("D%d", n), "v": strings.Repeat("v", n)}}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.connected()
	c.login("alice", "alice-password")
	msgs := c.sub("s", "demo_other.all")
	got := map[int]bool{}
	for _, m := range msgs {
		if m["msg"] == "added" {
			v, _ := m["fields"].(map[string]any)["v"].(string)
			if strings.Trim(v, "v") != "" {
				t.Fatalf("field damaged: %.20q…", v)
			}
			got[len(v)] = true
		}
	}
	for _, n := range []int{10, 100, 126, 1000, 65535, 70000} {
		if !got[n] {
			t.Errorf("no added with a %d-byte field (got %v)", n, got)
		}
	}
}
