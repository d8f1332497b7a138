package vsensors

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lease is the right to compute poll-mode sensors, held by one hub: a key
// in a JetStream key-value bucket whose entries expire after the lease
// time unless renewed.
type lease struct {
	kv   jetstream.KeyValue
	id   string
	rev  uint64
	held bool
}

const leaseKey = "poll"

func newLease(ctx context.Context, nc *nats.Conn, domain, instance string, ttl time.Duration) (*lease, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("poll lease: %w", err)
	}
	bucket := "gridedge_vsensors_" + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, domain)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: bucket, TTL: ttl, History: 1,
		Description: "GridEdge virtual sensors: which hub computes poll-mode sensors"})
	if err != nil {
		return nil, fmt.Errorf("poll lease: key-value bucket %s: %w", bucket, err)
	}
	return &lease{kv: kv, id: instance}, nil
}

// hold renews the lease, or takes it when free; it reports whether this
// hub holds it.
func (l *lease) hold(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if l.held {
		rev, err := l.kv.Update(cctx, leaseKey, []byte(l.id), l.rev)
		if err == nil {
			l.rev = rev
			return true
		}
		l.held = false
	}
	rev, err := l.kv.Create(cctx, leaseKey, []byte(l.id))
	if err == nil {
		l.rev, l.held = rev, true
	}
	return l.held
}

// release gives the lease up, so another hub takes over at its next tick.
func (l *lease) release() {
	if !l.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(l.rev))
	l.held = false
}
