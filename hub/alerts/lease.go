package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lease is the right to evaluate the rules, held by one hub: a key of a
// JetStream key-value bucket whose entries expire unless renewed.
type lease struct {
	kv   jetstream.KeyValue
	who  string
	ttl  time.Duration
	rev  uint64
	held bool
	// renewed is when the lease was last written
	renewed time.Time
}

const leaseKey = "rules"

// LeaseBucket is the key-value bucket of the lease.
func LeaseBucket(domain string) string { return "gridedge_alerts_" + domain }

func openLease(ctx context.Context, nc *nats.Conn, domain, who string, ttl time.Duration) (*lease, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("alerts lease: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: LeaseBucket(domain), TTL: ttl, History: 1,
		Description: "GridEdge alerts: which hub evaluates the alert rules"})
	if err != nil {
		return nil, fmt.Errorf("alerts lease: key-value bucket %s: %w", LeaseBucket(domain), err)
	}
	return &lease{kv: kv, who: who, ttl: ttl}, nil
}

// renew keeps or takes the lease and reports whether this hub holds it.
func (l *lease) renew(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if l.held {
		rev, err := l.kv.Update(cctx, leaseKey, []byte(l.who), l.rev)
		if err == nil {
			l.rev, l.renewed = rev, time.Now()
			return true
		}
		// the entry may be ours still (an update that timed out after
		// it was written): take its revision
		if e, gerr := l.kv.Get(cctx, leaseKey); gerr == nil && string(e.Value()) == l.who {
			if rev, err := l.kv.Update(cctx, leaseKey, []byte(l.who), e.Revision()); err == nil {
				l.rev, l.renewed = rev, time.Now()
				return true
			}
		}
		// a slow server: the lease is ours until it could have expired
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && time.Since(l.renewed) < l.ttl/2 {
			return true
		}
		l.held = false
	}
	if rev, err := l.kv.Create(cctx, leaseKey, []byte(l.who)); err == nil {
		l.rev, l.held, l.renewed = rev, true, time.Now()
	}
	return l.held
}

// release gives the lease up so that another hub takes over at its next tick.
func (l *lease) release() {
	if !l.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(l.rev))
	l.held = false
}
