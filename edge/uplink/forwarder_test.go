package uplink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func natsServer(t *testing.T, js bool) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Port: -1, JetStream: js, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// answerHWM answers the forwarder's high-water-mark request as the hub does.
func answerHWM(t testing.TB, nc *nats.Conn, domain, edge string, hwm uint64) {
	t.Helper()
	_, err := nc.Subscribe(subject.EdgeControl(domain, edge, subject.ActionHWM), func(m *nats.Msg) {
		m.Respond([]byte(fmt.Sprintf(`{"edge":%q,"hwm":%d}`, edge, hwm)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fill(t *testing.T, buf *buffer.Buffer, n int) {
	t.Helper()
	ts := time.Now()
	for i := 0; i < n; i++ {
		u := model.MeasurementUpdate("site", "meters", "M1", ts, map[string]model.Measurement{"v": {Value: float64(i + 1), Quality: 1, Timestamp: ts}})
		if _, err := buf.Append(u); err != nil {
			t.Fatal(err)
		}
	}
}

func TestForwarderDrainsInOrderAndDeletesAfterAck(t *testing.T) {
	srv := natsServer(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	fill(t, buf, 25)

	f := NewForwarder(nc, buf, ForwarderOptions{Edge: "e1", Domain: "d", MaxBatch: 10, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// no stream yet: no responders, the backlog stays
	time.Sleep(200 * time.Millisecond)
	if st, _ := buf.Stats(); st.Depth != 25 {
		t.Fatalf("depth %d while the hub is missing, want 25", st.Depth)
	}
	if f.Stats().Failures == 0 || f.Stats().LastError == "" {
		t.Fatalf("stats do not report the failures: %+v", f.Stats())
	}
	answerHWM(t, nc, "d", "e1", 0)
	js, _ := jetstream.New(nc)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST", Subjects: []string{subject.IngestAll("d")}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := buf.Stats(); st.Depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("backlog not drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != 3 {
		t.Fatalf("stream has %d batches, want 3 (10+10+5)", info.State.Msgs)
	}
	var next uint64 = 1
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		b, err := wire.DecodeBatch(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Validate(); err != nil {
			t.Fatal(err)
		}
		if b.SeqFirst != next || m.Header.Get(nats.MsgIdHdr) != b.MsgID() {
			t.Fatalf("batch %d: seq_first %d (want %d), msg id %q", seq, b.SeqFirst, next, m.Header.Get(nats.MsgIdHdr))
		}
		next = b.SeqLast + 1
	}
	if st := f.Stats(); st.Sent != 25 || st.Batches != 3 || st.LastError != "" {
		t.Fatalf("stats: %+v", st)
	}
}

// A batch carries the entries as buffered and the strings they use; the hub
// decodes it to the updates that were appended.
func TestEncodeBatchIsAValidBatch(t *testing.T) {
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	buf.Append(model.Update{Layer: "skip", Collection: "me", ID: "x", Set: map[string]any{"y": 0}, TS: ts})
	buf.Ack(1)
	buf.Append(
		model.Update{Layer: "a", Collection: "b", ID: "c", Set: map[string]any{"x": 1}, TS: ts},
		model.Update{Layer: "a", Collection: "b", ID: "c", Set: map[string]any{"x": 2}, TS: ts.Add(time.Second)})
	entries, err := buf.Peek(10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeBatch(`e"1`, entries, buf.Strings())
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.DecodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.Edge != `e"1` || b.SeqFirst != 2 || b.SeqLast != 3 || len(b.Updates) != 2 || b.Updates[1].Set["x"] != 2.0 || b.Updates[0].Layer != "a" {
		t.Fatalf("decoded %+v", b)
	}
	if bytes.Contains(data, []byte("skip")) {
		t.Errorf("the batch carries strings its updates do not use: %q", data)
	}
}

// A recreated buffer (sequence restarting at 1) continues above the hub's
// high-water mark instead of being skipped as replays.
func TestForwarderContinuesAboveTheHubsHighWaterMark(t *testing.T) {
	srv := natsServer(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	answerHWM(t, nc, "d", "e1", 5000)
	ctx := context.Background()
	js, _ := jetstream.New(nc)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST", Subjects: []string{subject.IngestAll("d")}})
	if err != nil {
		t.Fatal(err)
	}
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	fill(t, buf, 3)
	f := NewForwarder(nc, buf, ForwarderOptions{Edge: "e1", Domain: "d", Logger: quiet})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(rctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if info, _ := s.Info(ctx); info.State.Msgs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("batch not sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m, _ := s.GetMsg(ctx, 1)
	b, err := wire.DecodeBatch(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if b.SeqFirst != 5001 || b.SeqLast != 5003 {
		t.Fatalf("batch %d-%d, want 5001-5003", b.SeqFirst, b.SeqLast)
	}
}

// With a linger, updates that trickle in become one batch, and a full
// batch does not wait.
func TestForwarderLinger(t *testing.T) {
	tests := []struct {
		name        string
		linger      time.Duration
		maxBatch    int
		appends     int           // updates appended one at a time
		gap         time.Duration // between appends
		within      time.Duration // the backlog must be sent within
		wantBatches uint64
	}{
		{name: "trickle within the linger is one batch", linger: time.Second, maxBatch: 100, appends: 5, gap: 20 * time.Millisecond, within: 5 * time.Second, wantBatches: 1},
		{name: "a full batch goes at once", linger: time.Hour, maxBatch: 10, appends: 10, within: 5 * time.Second, wantBatches: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := natsServer(t, true)
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			answerHWM(t, nc, "d", "e1", 0)
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "INGEST", Subjects: []string{subject.IngestAll("d")}}); err != nil {
				t.Fatal(err)
			}
			buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer buf.Close()
			f := NewForwarder(nc, buf, ForwarderOptions{Edge: "e1", Domain: "d", MaxBatch: tc.maxBatch, Linger: tc.linger, Logger: quiet})
			done := make(chan struct{})
			go func() { defer close(done); _ = f.Run(ctx) }()
			defer func() { cancel(); <-done }()

			start := time.Now()
			for range tc.appends {
				fill(t, buf, 1)
				time.Sleep(tc.gap)
			}
			for f.Stats().Sent < uint64(tc.appends) {
				if time.Since(start) > tc.within {
					t.Fatalf("sent %d of %d updates after %s", f.Stats().Sent, tc.appends, tc.within)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := f.Stats().Batches; got != tc.wantBatches {
				t.Errorf("batches: got %d, want %d", got, tc.wantBatches)
			}
		})
	}
}
