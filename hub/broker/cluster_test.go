package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func freeRoutePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Three brokers given one list of routes (their own included) form a
// JetStream cluster, and each knows which consumers it leads.
func TestBrokersFormACluster(t *testing.T) {
	ports := []int{freeRoutePort(t), freeRoutePort(t), freeRoutePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var bs []*Broker
	for i, p := range ports {
		b, err := Start(Options{Domain: "d", ServerName: fmt.Sprintf("hub%d", i+1), StoreDir: t.TempDir(), Logger: log,
			Edges: []EdgeCredential{{ID: "e1", Password: "edge-secret"}}, LeafListen: "127.0.0.1:0",
			Cluster: &ClusterOptions{Name: "c", Listen: fmt.Sprintf("127.0.0.1:%d", p), Routes: routes}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Shutdown)
		bs = append(bs, b)
	}
	for _, b := range bs {
		ctx, cancel := contextWithTimeout(30 * time.Second)
		err := b.WaitJetStream(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !b.Clustered() {
			t.Fatalf("%s is not clustered", b.srv.Name())
		}
	}
	nc, err := bs[0].Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, "S", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var leaders []string
		for _, b := range bs {
			if b.LeadsConsumer("S", "c") {
				leaders = append(leaders, b.srv.Name())
			}
		}
		if len(leaders) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers leading consumer c: %v, want exactly one", leaders)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
