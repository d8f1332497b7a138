package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/hub/bridge/kafka"
)

// BenchmarkKafkaOut: events/s from the change feed to kfake, confirmed.
func BenchmarkKafkaOut(b *testing.B) {
	env := bridgetest.New(b)
	k := newCluster(b, "readings")
	cfg := bridge.Config{Name: "kout", Type: bridge.TypeKafka, URL: k.url(), Direction: bridge.Out, Topic: "readings",
		Layers: []string{"gridflex"}}
	cfg.Defaults()
	env.BenchOutbound(b, cfg, func() bridge.Sink {
		p, err := kafka.NewProducer(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return p
	})
}

// BenchmarkKafkaIn: records/s from kfake into the store (one store write
// and one offset commit per polled batch).
func BenchmarkKafkaIn(b *testing.B) {
	env := bridgetest.New(b)
	env.Layer(b, "gridflex", "meters")
	k := newCluster(b, "meters-in")
	cfg := bridge.Config{Name: "kin", Type: bridge.TypeKafka, URL: k.url(), Direction: bridge.In, Topic: "meters-in",
		Layer: "gridflex", Collection: "meters"}
	cfg.Defaults()
	prod, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:"+strconv.Itoa(k.port)), kgo.DefaultProduceTopic("meters-in"))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	recs := make([]*kgo.Record, 0, 1000)
	for i := range b.N {
		v, _ := json.Marshal(map[string]any{"_id": fmt.Sprintf("K%d", i%5000), "measurements": map[string]any{
			"power": map[string]any{"value": i, "quality": 1}}})
		recs = append(recs, &kgo.Record{Value: v})
		if len(recs) == cap(recs) || i == b.N-1 {
			if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	in, err := bridge.NewInbound(context.Background(), cfg, env.Store, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := kafka.NewConsumer(cfg, in, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { done <- c.Run(ctx) }()
	bridgetest.Eventually(b, 10*time.Minute, "records stored", func() bool { return in.Stats().Messages >= uint64(b.N) })
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}
