package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/edge/uplink"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/wire"
)

// testPipeline is a pipeline with real engines (no mappings, no rules), a
// real buffer and the embedded NATS server without a hub.
func testPipeline(tb testing.TB) (*pipeline, *uplink.Leaf, *nats.Conn) {
	tb.Helper()
	buf, err := buffer.Open(filepath.Join(tb.TempDir(), "buffer.db"), buffer.Options{NoSync: true, MaxBytes: 1 << 40, MaxUpdates: 1 << 40, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { buf.Close() })
	leaf, err := uplink.StartLeaf(uplink.LeafOptions{Edge: "e1", Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(leaf.Shutdown)
	nc, err := leaf.Connect("agent", "e1")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	tr, err := transform.New(&transform.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	bd, err := baddata.New(nil, baddata.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return &pipeline{tr: tr, bd: bd, buf: buf, live: leafBus{leaf, nc}, domain: "t", edge: "e1", now: time.Now, log: quiet}, leaf, nc
}

// poll is one poll of a 30-register device.
func poll(dev, tick int, ts time.Time) model.Update {
	ms := make(map[string]model.Measurement, 30)
	for i := range 30 {
		var v any = float64(float32(230 + 0.1*float64((tick*7+i*13+dev)%100)))
		if i%3 == 0 {
			v = float64(tick*31 + i + dev)
		}
		ms[fmt.Sprintf("register%02d", i)] = model.Measurement{Value: v, Quality: model.QualityGood, Timestamp: ts}
	}
	return model.MeasurementUpdate("modbus", "meters", fmt.Sprintf("dev-%03d", dev), ts, ms)
}

// Without a listener nothing is published (and nothing encoded as JSON);
// with one, it gets the documented JSON update; the buffer gets every update
// either way, non-finite values replaced.
func TestPipelinePublishesLiveOnlyWithInterest(t *testing.T) {
	p, leaf, nc := testPipeline(t)
	ctx := context.Background()
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	u := poll(1, 1, ts)
	u.Set["measurements.broken"] = model.Measurement{Value: math.NaN(), Quality: model.QualityGood, Timestamp: ts}
	if err := p.Process(ctx, 0, []model.Update{u}); err != nil {
		t.Fatal(err)
	}
	if got := nc.Stats().OutMsgs; got != 0 {
		t.Fatalf("%d messages published without a listener, want 0", got)
	}
	app, err := leaf.Connect("app", "e1")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	sub, err := app.SubscribeSync(subject.LiveAll("t", "e1"))
	if err != nil {
		t.Fatal(err)
	}
	app.Flush()
	if err := p.Process(ctx, 0, []model.Update{poll(1, 2, ts.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no live reading with a listener: %v", err)
	}
	var live model.Update
	if err := json.Unmarshal(msg.Data, &live); err != nil || msg.Subject != "t.live.e1.modbus.meters.dev-001" || len(live.Set) != 31 {
		t.Fatalf("live reading on %s: %s (%v)", msg.Subject, msg.Data, err)
	}
	es, err := p.buf.Peek(10, 1<<20)
	if err != nil || len(es) != 2 {
		t.Fatalf("buffered %d updates (%v), want 2", len(es), err)
	}
	first, err := wire.DecodeUpdate(es[0].Data, p.buf.Strings())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := first.Set["measurements.broken"].(map[string]any)
	if m["value"] != nil || m["quality"] != float64(model.QualityBad) {
		t.Errorf("buffered NaN reading %v, want value null with quality %d", m, model.QualityBad)
	}
}

// BenchmarkPipeline500x30 is one second of a 500-device × 30-register site
// through the pipeline (no mappings or rules: the post-decoding cost) into a
// real buffer (NoSync: CPU, not the disk) with no live listener. Each device
// is processed on its own goroutine, as each slave has its poller, so group
// commit works as in the agent.
func BenchmarkPipeline500x30(b *testing.B) {
	p, _, _ := testPipeline(b)
	ctx := context.Background()
	start := time.Now().UTC()
	const devices = 500
	polls := make([][]model.Update, devices)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		ts := start.Add(time.Duration(i) * time.Second)
		for d := range polls {
			polls[d] = []model.Update{poll(d, i, ts)}
		}
		b.StartTimer()
		var wg sync.WaitGroup
		for d := range polls {
			wg.Go(func() {
				if err := p.Process(ctx, d, polls[d]); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*devices*30), "ns/reading")
}
