package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/bridge/internal/bridgetest"
	"github.com/gridedge/gridedge/hub/bridge/kafka"
	"github.com/gridedge/gridedge/shared/config"
)

// cluster is a kfake Kafka cluster that keeps its data in a directory and
// its port across restarts.
type cluster struct {
	t    testing.TB
	dir  string
	port int
	c    *kfake.Cluster
}

func newCluster(t testing.TB, topics ...string) *cluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	k := &cluster{t: t, dir: t.TempDir(), port: port}
	k.start(kfake.SeedTopics(3, topics...))
	t.Cleanup(func() {
		if k.c != nil {
			k.c.Close()
		}
	})
	return k
}

func (k *cluster) start(extra ...kfake.Opt) {
	k.t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(k.port), kfake.DataDir(k.dir),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, extra...)...)
	if err != nil {
		k.t.Fatal(err)
	}
	k.c = c
}

// restart stops the broker, waits, and starts it again on the same port
// with the same data.
func (k *cluster) restart(down time.Duration) {
	k.c.Close()
	k.c = nil
	time.Sleep(down)
	k.start()
}

func (k *cluster) url() string { return "kafka://127.0.0.1:" + strconv.Itoa(k.port) }

// fastRetry makes the test clients notice a restarted broker quickly.
var fastRetry = []kgo.Opt{kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	kgo.MetadataMinAge(50 * time.Millisecond)}

func TestKafkaOutboundAcrossBrokerRestart(t *testing.T) {
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters")
	k := newCluster(t, "readings")
	cfg := bridge.Config{Name: "kout", Type: bridge.TypeKafka, URL: k.url(), Direction: bridge.Out, Topic: "readings",
		Layers: []string{"gridflex"}, Batch: 64, Timeout: config.Duration(2 * time.Second), MaxBackoff: config.Duration(200 * time.Millisecond)}
	cfg.Defaults()
	p, err := kafka.NewProducer(cfg, fastRetry...)
	if err != nil {
		t.Fatal(err)
	}
	o, stop := env.StartOutbound(t, cfg, p)

	tally := bridgetest.NewTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { // the other side: reads the topic from the start, across the restart
		defer wg.Done()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:" + strconv.Itoa(k.port)),
			kgo.ConsumeTopics("readings"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, fastRetry...)...)
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				if string(r.Headers[0].Value) == "" || r.Headers[0].Key != bridge.HeaderKey {
					t.Errorf("record without %s header", bridge.HeaderKey)
				}
				if err := tally.Add(r.Value); err != nil {
					t.Error(err)
				}
			})
		}
	}()

	env.Write(t, "gridflex", "meters", 0, 300)
	tally.WaitIDs(t, 100, 20*time.Second)
	// the broker restarts mid-stream while the hub keeps writing
	done := make(chan struct{})
	go func() { defer close(done); k.restart(500 * time.Millisecond) }()
	env.Write(t, "gridflex", "meters", 300, 600)
	<-done
	tally.WaitIDs(t, 600, 30*time.Second)
	// and the hub restarts: its durable consumer resumes
	stop()
	env.Write(t, "gridflex", "meters", 600, 700)
	p2, err := kafka.NewProducer(cfg, fastRetry...)
	if err != nil {
		t.Fatal(err)
	}
	env.StartOutbound(t, cfg, p2)
	tally.WaitIDs(t, 700, 30*time.Second)
	keys, dups, ids := tally.Distinct()
	if keys != 700 || ids != 700 {
		t.Errorf("got %d keys of %d documents, want 700 changes of 700 documents", keys, ids)
	}
	t.Logf("delivered %d changes, %d duplicates; bridge stats %+v", keys, dups, o.Stats())
}

func TestKafkaInboundAcrossRestarts(t *testing.T) {
	env := bridgetest.New(t)
	env.Layer(t, "gridflex", "meters")
	k := newCluster(t, "meters-in")
	cfg := bridge.Config{Name: "kin", Type: bridge.TypeKafka, URL: k.url(), Direction: bridge.In, Topic: "meters-in",
		Layer: "gridflex", Collection: "meters", Batch: 50, Timeout: config.Duration(2 * time.Second),
		MaxBackoff: config.Duration(200 * time.Millisecond)}
	cfg.Defaults()
	in, err := bridge.NewInbound(context.Background(), cfg, env.Store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func() (stop func()) {
		c, err := kafka.NewConsumer(cfg, in, nil, fastRetry...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	stop := run()
	prod, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:" + strconv.Itoa(k.port)),
		kgo.DefaultProduceTopic("meters-in")}, fastRetry...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v, _ := json.Marshal(map[string]any{"_id": fmt.Sprintf("K%d", i), "measurements": map[string]any{
				"power": map[string]any{"value": i, "quality": 1}}})
			if err := prod.ProduceSync(context.Background(), &kgo.Record{Value: v}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() int {
		n, err := env.Raw.Count(context.Background(), "gridflex", "meters", nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	produce(0, 200)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Value: []byte(`{"no":"id"}`)}, &kgo.Record{Value: []byte(`not json`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	bridgetest.Eventually(t, 20*time.Second, "200 documents stored", func() bool { return count() >= 200 })
	k.restart(300 * time.Millisecond)
	produce(200, 400)
	bridgetest.Eventually(t, 30*time.Second, "400 documents stored", func() bool { return count() >= 400 })
	stop() // the hub restarts: the group resumes at its committed offsets
	produce(400, 500)
	stop = run()
	defer stop()
	bridgetest.Eventually(t, 30*time.Second, "500 documents stored", func() bool { return count() == 500 })
	d, err := env.Raw.Get(context.Background(), "gridflex", "meters", "K321")
	if err != nil {
		t.Fatal(err)
	}
	if v := d["measurements"].(map[string]any)["power"].(map[string]any)["value"]; v != 321.0 {
		t.Errorf("K321 power = %v, want 321", v)
	}
	bridgetest.Eventually(t, 10*time.Second, "every message counted", func() bool { return in.Stats().Messages >= 500 })
	st := in.Stats()
	if st.Bad != 2 {
		t.Errorf("got %d bad messages, want 2 (no _id, not JSON)", st.Bad)
	}
	t.Logf("stored %d messages for 500 documents (%d duplicates); stats %+v", st.Messages, st.Messages-500, st)
}
