package federation

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/bolt"
)

// TestApplyGroup applies groups of changes straight to a store: the last
// state of each document wins, a drop applies what came before it first,
// removed fields go, and loops, changes outside the policy and bad ones are
// counted, not applied.
func TestApplyGroup(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := Peer{Name: "a", Import: []Import{{Grant: Grant{Layer: "dso", Collections: []string{"m"}}, As: "x-dso"}}}
	var announced []store.Change
	s := &Service{o: Options{Domain: "b", Store: st, Logger: quiet, Changes: func(c store.Change) { announced = append(announced, c) }},
		log: quiet, peers: map[string]*peerState{"a": {cfg: p, perLayer: map[string]*LayerStatus{}}}, origins: map[string][]string{}}
	seq := uint64(0)
	enc := func(c Change) entry {
		seq++
		if c.Origin == nil {
			c.Origin = []string{"a"}
		}
		c.Layer, c.At = "dso", time.Now()
		if c.Collection == "" {
			c.Collection = "m"
		}
		data, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return entry{seq: seq, data: data}
	}
	get := func(id string) store.Document {
		d, err := st.Get(ctx, "x-dso", "m", id)
		if err != nil {
			return nil
		}
		return d
	}
	cache := map[string]bool{}
	group := []entry{
		enc(Change{Op: OpPut, ID: "x", Doc: map[string]any{"a": 1.0, "b": 2.0}}),
		enc(Change{Op: OpPut, ID: "y", Doc: map[string]any{"a": 1.0}}),
		enc(Change{Op: OpDrop}),
		enc(Change{Op: OpPut, ID: "z", Doc: map[string]any{"a": 1.0, "b": 2.0}}),
		enc(Change{Op: OpPut, ID: "w", Doc: map[string]any{"a": 1.0}}),
		enc(Change{Op: OpDelete, ID: "w"}),
		enc(Change{Op: OpPut, ID: "loop", Doc: map[string]any{"a": 1.0}, Origin: []string{"b", "a"}}),
		enc(Change{Op: OpPut, ID: "other", Doc: map[string]any{"a": 1.0}, Collection: "feeders"}),
		{seq: 10, data: []byte(`{"op":"put"}`)},
	}
	seq = 10
	if err := s.applyGroup(ctx, p, group, cache); err != nil {
		t.Fatal(err)
	}
	if get("x") != nil || get("y") != nil || get("w") != nil || get("loop") != nil {
		t.Fatalf("x, y (dropped), w (deleted) or loop (looped) are stored")
	}
	if d := get("z"); d["b"] != 2.0 {
		t.Fatalf("z = %v", d)
	}
	// the next group removes a field of z and updates it
	if err := s.applyGroup(ctx, p, []entry{enc(Change{Op: OpPut, ID: "z", Doc: map[string]any{"a": 5.0}})}, cache); err != nil {
		t.Fatal(err)
	}
	if d := get("z"); d["a"] != 5.0 || d["b"] != nil {
		t.Fatalf("z = %v, want a=5 and no b", d)
	}
	st2, _ := s.Status("a")
	if st2.AppliedSeq != seq || st2.Looped != 1 || st2.Refused != 1 || st2.Failed != 1 || st2.Applied != 7 {
		t.Fatalf("status %+v", st2)
	}
	if len(announced) == 0 {
		t.Fatal("imported writes were not announced on the change feed")
	}
}
