package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestHubStreams lays out JetStream as the hub's ingest service does
// (hub/ingest: a work-queue stream INGEST_<edge> per edge with the durable
// consumer applier-<edge>, and DEADLETTER with the edge in a header) on a
// real nats-server and reads it back with `gridedge hub streams`.
func TestHubStreams(t *testing.T) {
	isolate(t)
	s := startNATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, e := range []string{"e1", "e2"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST_" + e, Subjects: []string{"gridedge.ingest." + e},
			Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DEADLETTER", Subjects: []string{"gridedge.deadletter.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "gridedge.ingest.e1", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "gridedge.ingest.e2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"e1", "e1", "e2", "e9"} {
		m := nats.NewMsg("gridedge.deadletter.ingest")
		m.Header.Set("GridEdge-Edge", e)
		m.Header.Set("GridEdge-Reason", "test")
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// the applier of e1 holds one batch without acknowledging it
	cons, err := js.CreateOrUpdateConsumer(ctx, "INGEST_e1", jetstream.ConsumerConfig{Durable: "applier-e1", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}

	code, out, errOut := runCLI("hub", "streams", "--server", s.ClientURL(), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep streamsReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.DeadLetters != 4 || rep.DeadLettersScanned != 4 {
		t.Errorf("dead letters %d, scanned %d; want 4, 4", rep.DeadLetters, rep.DeadLettersScanned)
	}
	type row struct {
		edge, stream string
		backlog      uint64
		ackPending   int
		dead         uint64
	}
	want := []row{{"e1", "INGEST_e1", 3, 1, 2}, {"e2", "INGEST_e2", 1, 0, 1}, {"e9", "", 0, 0, 1}}
	if len(rep.Edges) != len(want) {
		t.Fatalf("rows %+v, want %d", rep.Edges, len(want))
	}
	for i, w := range want {
		g := rep.Edges[i]
		if got := (row{g.Edge, g.Stream, g.Backlog, g.AckPending, g.DeadLetters}); got != w {
			t.Errorf("row %d: got %+v, want %+v", i, got, w)
		}
		if w.backlog > 0 && (g.Oldest.IsZero() || g.Bytes == 0) {
			t.Errorf("row %d: oldest %v, bytes %d", i, g.Oldest, g.Bytes)
		}
	}
	// the table, for people
	code, out, _ = runCLI("hub", "streams", "--server", s.ClientURL(), "--edge", "e1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "EDGE") || !strings.Contains(lines[1], "INGEST_e1") ||
		!strings.Contains(lines[2], "DEADLETTER: 4 message(s)") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	f := strings.Fields(lines[1])
	if f[2] != "3" || f[len(f)-1] != "2" {
		t.Errorf("e1 row %q: want backlog 3 and 2 dead letters", lines[1])
	}
}
