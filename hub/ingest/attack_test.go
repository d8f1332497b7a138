package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Attack tests: what a compromised edge (valid credentials, its own
// subjects) tried against the others' data.

// An edge that publishes with another edge's message id on its own subject
// must not make the hub answer that edge's real batch as a duplicate (the
// agent deletes a batch answered as a duplicate).
func TestAttackCrossEdgeMsgIDPoisoning(t *testing.T) {
	f := setup(t, []string{"e1", "e2"})
	for _, id := range []string{"e2:1-1", "e2:2-3"} {
		f.publish(t, "e1", batchJSON("e1", 1, 1, "meters"), id)
	}
	for _, c := range []struct {
		first uint64
		n     int
		id    string
	}{{1, 1, "e2:1-1"}, {2, 2, "e2:2-3"}} {
		if ack := f.publish(t, "e2", batchJSON("e2", c.first, c.n, "meters"), c.id); ack.Duplicate {
			t.Fatalf("e2's batch %s: the hub answered duplicate: true because e1 used its id first", c.id)
		}
	}
	wait(t, "e2's batches", func() bool { return f.a.EdgeStats("e2").LastSeq == 3 })
	if hwm, _ := f.st.HighWaterMark(context.Background(), "e2"); hwm != 3 {
		t.Fatalf("e2's high-water mark is %d, want 3", hwm)
	}
}

// One batch with an implausible sequence number must not turn every later
// real batch into a skipped replay: it is quarantined.
func TestAttackSequenceJump(t *testing.T) {
	f := setup(t, []string{"e1"})
	f.publish(t, "e1", batchJSON("e1", 1, 1, "meters"), "e1:1-1")
	f.publish(t, "e1", batchJSON("e1", 1_000_000_000_000, 1, "meters"), "e1:1000000000000-1000000000000")
	f.publish(t, "e1", batchJSON("e1", 2, 2, "meters"), "e1:2-3")
	wait(t, "the batches after the jump", func() bool { return f.a.EdgeStats("e1").Applied+f.a.EdgeStats("e1").Skipped >= 3 })
	s := f.a.EdgeStats("e1")
	if s.Applied != 3 || s.Skipped != 0 || s.LastSeq != 3 {
		t.Fatalf("e1 stats %+v: want 3 applied, 0 skipped, last seq 3 (the jump quarantined)", s)
	}
	if hwm, _ := f.st.HighWaterMark(context.Background(), "e1"); hwm != 3 {
		t.Fatalf("e1's high-water mark is %d, want 3", hwm)
	}
	if s.Quarantined != 1 || f.a.Stats().Quarantined != 1 {
		t.Fatalf("quarantined: edge %d, total %d; want 1 and 1", s.Quarantined, f.a.Stats().Quarantined)
	}
	cons, err := f.js.OrderedConsumer(context.Background(), DeadLetterName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter for the jump: %v", err)
	}
	if r := msg.Headers().Get(HeaderReason); !contains(r, "sequence jump") {
		t.Errorf("dead letter reason %q does not say sequence jump", r)
	}
}

// An edge writes only the layers and collections its allow-list names; a
// batch outside it is dead-lettered with a reason naming them.
func TestAttackWriteOutsideAllowList(t *testing.T) {
	f := setupWith(t, []string{"e1", "e2"}, func(o *Options) {
		o.Allowed = map[string][]LayerGrant{
			"e1": {{Layer: "site", Collections: []string{"meters"}}},
			"e2": {{Layer: "other"}},
		}
	})
	ctx := context.Background()
	if err := f.st.PutLayer(ctx, storeLayer("other", "x")); err != nil {
		t.Fatal(err)
	}
	f.publish(t, "e2", batchJSON("e2", 1, 1, "meters"), "") // site/meters: e1's, not e2's
	f.publish(t, "e1", batchJSON("e1", 1, 1, "meters"), "")
	wait(t, "e1's batch and e2's dead letter", func() bool {
		return f.a.EdgeStats("e1").Applied == 1 && f.a.EdgeStats("e2").DeadLetters == 1
	})
	if s := f.a.EdgeStats("e2"); s.Applied != 0 || s.Refused != 1 {
		t.Fatalf("e2 stats %+v: want nothing applied, 1 refused", s)
	}
	cons, err := f.js.OrderedConsumer(ctx, DeadLetterName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if r := msg.Headers().Get(HeaderReason); !contains(r, "site/meters") || !contains(r, "not allowed") {
		t.Errorf("dead letter reason %q does not name site/meters as not allowed", r)
	}
}
