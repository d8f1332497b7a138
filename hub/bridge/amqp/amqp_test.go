package amqp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/amqp"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/shared/config"
)

// declare makes the receivers' side: the exchange and a durable queue
// bound to it with key.
func declare(t testing.TB, url, exchange, queue, key string) {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(exchange, "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, key, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
}

// receive consumes queue into tally until ctx is done, reconnecting
// while the broker restarts; each message is acknowledged after it is
// counted.
func receive(ctx context.Context, t *testing.T, url, queue string, tally *bridgetest.Tally, keys func(amqp091.Delivery)) {
	for ctx.Err() == nil {
		conn, err := amqp091.Dial(url)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		ch, err := conn.Channel()
		var ds <-chan amqp091.Delivery
		if err == nil {
			ds, err = ch.Consume(queue, "", false, false, false, false, nil)
		}
		if err != nil {
			conn.Close()
			time.Sleep(100 * time.Millisecond)
			continue
		}
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case d, ok := <-ds:
				if !ok {
					break loop
				}
				keys(d)
				if err := tally.Add(d.Body); err != nil {
					t.Error(err)
				}
				_ = d.Ack(false)
			}
		}
		conn.Close()
	}
}

func TestAMQPOutboundAcrossBrokerRestart(t *testing.T) {
	r := startRabbit(t)
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters")
	declare(t, r.url(), "xflex", "platform", "gridflex.meters.*")
	cfg := bridge.Config{Name: "rout", Type: bridge.TypeAMQP, URL: r.url(), Direction: bridge.Out, Exchange: "xflex",
		Layers: []string{"gridflex"}, Batch: 64, Timeout: config.Duration(5 * time.Second), MaxBackoff: config.Duration(300 * time.Millisecond)}
	cfg.Defaults()
	o, stop := env.StartOutbound(t, cfg, amqp.NewPublisher(cfg))

	tally := bridgetest.NewTally()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var mu sync.Mutex
	var badKey int
	wg.Add(1)
	go func() {
		defer wg.Done()
		receive(ctx, t, r.url(), "platform", tally, func(d amqp091.Delivery) {
			var ev bridge.Event
			_ = json.Unmarshal(d.Body, &ev)
			if d.MessageId != ev.Key || d.RoutingKey != ev.RoutingKey() || d.DeliveryMode != amqp091.Persistent || d.ContentType != "application/json" {
				mu.Lock()
				badKey++
				mu.Unlock()
			}
		})
	}()

	env.Write(t, "gridflex", "meters", 0, 300)
	tally.WaitIDs(t, 100, 30*time.Second)
	// the broker restarts mid-stream while the hub keeps writing
	done := make(chan struct{})
	go func() { defer close(done); r.restart() }()
	env.Write(t, "gridflex", "meters", 300, 600)
	<-done
	tally.WaitIDs(t, 600, 60*time.Second)
	// and the hub restarts
	stop()
	env.Write(t, "gridflex", "meters", 600, 700)
	env.StartOutbound(t, cfg, amqp.NewPublisher(cfg))
	tally.WaitIDs(t, 700, 30*time.Second)

	keys, dups, ids := tally.Distinct()
	if keys != 700 || ids != 700 {
		t.Errorf("got %d keys of %d documents, want 700 changes of 700 documents", keys, ids)
	}
	mu.Lock()
	defer mu.Unlock()
	if badKey > 0 {
		t.Errorf("%d messages without the event's key as message-id, its routing key, persistence or content type", badKey)
	}
	t.Logf("delivered %d changes, %d duplicates; bridge stats %+v", keys, dups, o.Stats())
}

// publish sends persistent messages to queue through the default
// exchange and waits for the broker's confirms, retrying while the broker
// is away.
func publish(t testing.TB, url, queue string, bodies [][]byte) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := func() error {
			conn, err := amqp091.Dial(url)
			if err != nil {
				return err
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				return err
			}
			if err := ch.Confirm(false); err != nil {
				return err
			}
			if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
				return err
			}
			for _, b := range bodies {
				dc, err := ch.PublishWithDeferredConfirm("", queue, false, false, amqp091.Publishing{
					ContentType: "application/json", DeliveryMode: amqp091.Persistent, Body: b})
				if err != nil {
					return err
				}
				if !dc.Wait() {
					return fmt.Errorf("not confirmed")
				}
			}
			return nil
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish to %s: %v", queue, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readings(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		b, _ := json.Marshal(map[string]any{"_id": fmt.Sprintf("R%d", i), "measurements": map[string]any{
			"power": map[string]any{"value": i, "quality": 1}}})
		out = append(out, b)
	}
	return out
}

func TestAMQPInboundAcrossRestarts(t *testing.T) {
	r := startRabbit(t)
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters")
	cfg := bridge.Config{Name: "rin", Type: bridge.TypeAMQP, URL: r.url(), Direction: bridge.In, Queue: "meters-in",
		Layer: "gridflex", Collection: "meters", Batch: 50, Timeout: config.Duration(5 * time.Second),
		MaxBackoff: config.Duration(300 * time.Millisecond)}
	cfg.Defaults()
	in, err := bridge.NewInbound(context.Background(), cfg, env.Store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- amqp.NewConsumer(cfg, in, nil).Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	stop := run()
	count := func() int {
		n, err := env.Raw.Count(context.Background(), "gridflex", "meters", nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	publish(t, r.url(), "meters-in", append(readings(0, 200), []byte(`{"no":"id"}`), []byte(`not json`)))
	bridgetest.Eventually(t, 30*time.Second, "200 documents stored", func() bool { return count() >= 200 })
	publish(t, r.url(), "meters-in", readings(200, 300))
	r.restart() // mid-stream: unacknowledged messages come back
	publish(t, r.url(), "meters-in", readings(300, 400))
	bridgetest.Eventually(t, 60*time.Second, "400 documents stored", func() bool { return count() >= 400 })
	stop() // the hub restarts
	publish(t, r.url(), "meters-in", readings(400, 500))
	stop = run()
	defer stop()
	bridgetest.Eventually(t, 30*time.Second, "500 documents stored", func() bool { return count() == 500 })
	bridgetest.Eventually(t, 10*time.Second, "every message counted", func() bool { return in.Stats().Messages >= 500 })
	d, err := env.Raw.Get(context.Background(), "gridflex", "meters", "R321")
	if err != nil {
		t.Fatal(err)
	}
	if v := d["measurements"].(map[string]any)["power"].(map[string]any)["value"]; v != 321.0 {
		t.Errorf("R321 power = %v, want 321", v)
	}
	st := in.Stats()
	if st.Bad != 2 {
		t.Errorf("got %d bad messages, want 2 (no _id, not JSON)", st.Bad)
	}
	t.Logf("stored %d messages for 500 documents (%d duplicates); stats %+v", st.Messages, st.Messages-500, st)
}
