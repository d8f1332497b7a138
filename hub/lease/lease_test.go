package lease

import (
	"context"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServer is an embedded NATS server with JetStream; it returns a
// function that makes connections closed with the test.
func natsServer(t *testing.T) func() *nats.Conn {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return func() *nats.Conn {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}

// eventually renews l until it holds the lease or the deadline passes,
// and reports how long that took.
func eventually(t *testing.T, l *Lease, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !l.Renew(context.Background()) {
		if time.Since(start) > within {
			t.Fatalf("%s did not take the lease within %v", l.cfg.Holder, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// entry is the holder named by the lease's key ("" when there is none).
func entry(t *testing.T, kv jetstream.KeyValue, key string) (string, uint64) {
	t.Helper()
	e, err := kv.Get(context.Background(), key)
	if err != nil {
		return "", 0
	}
	return string(e.Value()), e.Revision()
}

// TestLease: of two hubs sharing a bucket one holds the lease, renews it,
// keeps it through a renewal that times out, loses it to another holder,
// and hands it over on release or after expiry.
func TestLease(t *testing.T) {
	connect := natsServer(t)
	const ttl = 600 * time.Millisecond
	for i, tc := range []struct {
		name string
		run  func(t *testing.T, a, b *Lease, kv jetstream.KeyValue)
	}{
		{"first to renew acquires, the other does not", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			if !a.Renew(context.Background()) || !a.Held() {
				t.Fatal("a: free lease not acquired")
			}
			if b.Renew(context.Background()) || b.Held() {
				t.Fatal("b: acquired a held lease")
			}
			if who, _ := entry(t, kv, "k"); who != "a" {
				t.Fatalf("entry names %q, want a", who)
			}
		}},
		{"renewal keeps the lease past its TTL", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			_, rev0 := entry(t, kv, "k")
			for end := time.Now().Add(2 * ttl); time.Now().Before(end); time.Sleep(ttl / 4) {
				if !a.Renew(context.Background()) {
					t.Fatal("a lost the lease it renews")
				}
				if b.Renew(context.Background()) {
					t.Fatal("b took a renewed lease")
				}
			}
			if who, rev := entry(t, kv, "k"); who != "a" || rev <= rev0 {
				t.Fatalf("entry %q rev %d, want a renewed past rev %d", who, rev, rev0)
			}
		}},
		{"another holder takes over after expiry", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			// a stops renewing (a hub gone without release)
			if took := eventually(t, b, 20*ttl); took < ttl/2 {
				t.Fatalf("b took the lease after %v, before it could have expired (TTL %v)", took, ttl)
			}
			if who, _ := entry(t, kv, "k"); who != "b" {
				t.Fatalf("entry names %q, want b", who)
			}
			if a.Renew(context.Background()) || a.Held() {
				t.Fatal("a still holds the lease b took over")
			}
		}},
		{"a renewal that times out does not drop the lease", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			timedOut, cancel := context.WithCancel(context.Background())
			cancel()
			if !a.Renew(timedOut) {
				t.Fatal("a dropped the lease on a renewal that timed out")
			}
			if !a.Renew(context.Background()) {
				t.Fatal("a lost the lease at the renewal after the time-out")
			}
			if b.Renew(context.Background()) {
				t.Fatal("b took the lease a kept")
			}
		}},
		{"renewals failing for half the TTL drop the lease", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			time.Sleep(ttl/2 + 50*time.Millisecond)
			timedOut, cancel := context.WithCancel(context.Background())
			cancel()
			if a.Renew(timedOut) || a.Held() {
				t.Fatal("a kept a lease it had not written for half the TTL")
			}
		}},
		{"an update written but unanswered keeps the lease", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			// what a timed-out update leaves: a's entry at a revision a does not know
			if _, err := kv.Put(context.Background(), "k", []byte("a")); err != nil {
				t.Fatal(err)
			}
			if !a.Renew(context.Background()) {
				t.Fatal("a dropped the lease its own late write holds")
			}
			if !a.Renew(context.Background()) {
				t.Fatal("a lost the lease after taking its revision")
			}
		}},
		{"an entry of another holder drops the lease", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			if _, err := kv.Put(context.Background(), "k", []byte("b")); err != nil {
				t.Fatal(err)
			}
			if a.Renew(context.Background()) || a.Held() {
				t.Fatal("a kept a lease whose entry names b")
			}
		}},
		{"release hands over at the next renewal", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			a.Release()
			if a.Held() {
				t.Fatal("a holds the lease it released")
			}
			if !b.Renew(context.Background()) {
				t.Fatal("b did not take a released lease at once")
			}
			// releasing again, or without holding, leaves b's entry alone
			a.Release()
			if who, _ := entry(t, kv, "k"); who != "b" {
				t.Fatalf("entry names %q after a's second release, want b", who)
			}
		}},
		{"a stale release leaves the new holder's entry", func(t *testing.T, a, b *Lease, kv jetstream.KeyValue) {
			a.Renew(context.Background())
			eventually(t, b, 20*ttl)
			a.Release() // a still believes it holds the lease
			if who, _ := entry(t, kv, "k"); who != "b" {
				t.Fatalf("entry names %q after a's stale release, want b", who)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := BucketName("test_", string(rune('a'+i)))
			open := func(who string) *Lease {
				l, err := Open(context.Background(), connect(), Config{Bucket: bucket, Key: "k", Holder: who, TTL: ttl, Description: "test"})
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			a, b := open("a"), open("b")
			if a.Bucket() != bucket {
				t.Fatalf("Bucket() = %q, want %q", a.Bucket(), bucket)
			}
			tc.run(t, a, b, a.kv)
		})
	}
}

// TestOpenRejects: a lease missing its bucket, key, holder or TTL is an
// error naming what is wrong.
func TestOpenRejects(t *testing.T) {
	connect := natsServer(t)
	ok := Config{Bucket: "b", Key: "k", Holder: "h", TTL: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no bucket", func(c *Config) { c.Bucket = "" }, "lease: bucket missing"},
		{"no key or holder", func(c *Config) { c.Key, c.Holder = "", "" }, "lease: key, holder missing"},
		{"zero TTL", func(c *Config) { c.TTL = 0 }, "lease b/k: TTL (0s) must be positive"},
		{"bad bucket name", func(c *Config) { c.Bucket = "a.b" }, "lease: key-value bucket a.b with 1 replicas (attempt 1):"},
		{"negative replicas", func(c *Config) { c.Replicas = -1 }, "lease b/k: replicas (-1) must be between 1 and 5"},
		{"too many replicas", func(c *Config) { c.Replicas = 6 }, "lease b/k: replicas (6) must be between 1 and 5"},
		{"replicas without a cluster", func(c *Config) { c.Replicas = 3 }, "lease: key-value bucket b with 3 replicas (attempt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			// a replicated bucket is tried again until the context ends
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := Open(ctx, connect(), c)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q…", err, tc.want)
			}
		})
	}
}

// TestBucketName: a domain's characters a bucket name cannot hold become '_'.
func TestBucketName(t *testing.T) {
	for _, tc := range []struct{ prefix, domain, want string }{
		{"gridedge_vsensors_", "plant-1_A", "gridedge_vsensors_plant-1_A"},
		{"gridedge_vsensors_", "plant.1 *>", "gridedge_vsensors_plant_1___"},
		{"p_", "", "p_"},
	} {
		if got := BucketName(tc.prefix, tc.domain); got != tc.want {
			t.Errorf("BucketName(%q, %q) = %q, want %q", tc.prefix, tc.domain, got, tc.want)
		}
	}
}
