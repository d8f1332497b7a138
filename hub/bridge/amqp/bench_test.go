package amqp_test

import (
	"context"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/amqp"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
)

// BenchmarkAMQPOut: events/s from the change feed to RabbitMQ (persistent
// messages into a durable queue), publisher-confirmed.
func BenchmarkAMQPOut(b *testing.B) {
	r := startRabbit(b)
	env := bridgetest.New(b)
	declare(b, r.url(), "xflex", "platform", "#")
	cfg := bridge.Config{Name: "rout", Type: bridge.TypeAMQP, URL: r.url(), Direction: bridge.Out, Exchange: "xflex",
		Layers: []string{"gridflex"}}
	cfg.Defaults()
	env.BenchOutbound(b, cfg, func() bridge.Sink { return amqp.NewPublisher(cfg) })
}

// BenchmarkAMQPIn: messages/s from a durable queue into the store (one
// store write and one multiple-ack per prefetched batch).
func BenchmarkAMQPIn(b *testing.B) {
	r := startRabbit(b)
	env := bridgetest.New(b)
	env.Layer(b, "gridflex", "meters")
	cfg := bridge.Config{Name: "rin", Type: bridge.TypeAMQP, URL: r.url(), Direction: bridge.In, Queue: "meters-in",
		Layer: "gridflex", Collection: "meters"}
	cfg.Defaults()
	for lo := 0; lo < b.N; lo += 1000 {
		publish(b, r.url(), "meters-in", readings(lo, min(lo+1000, b.N)))
	}
	in, err := bridge.NewInbound(context.Background(), cfg, env.Store, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { done <- amqp.NewConsumer(cfg, in, nil).Run(ctx) }()
	bridgetest.Eventually(b, 10*time.Minute, "messages stored", func() bool { return in.Stats().Messages >= uint64(b.N) })
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}
