package weather

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lease is the right to refresh the sites, held by one hub of several: a
// key of a JetStream key-value bucket whose entries expire unless renewed
// (as hub/alerts and hub/vsensors hold theirs).
type lease struct {
	kv      jetstream.KeyValue
	who     string
	ttl     time.Duration
	rev     uint64
	held    bool
	renewed time.Time
}

const leaseKey = "refresh"

// LeaseBucket is the key-value bucket of the refresh lease.
func LeaseBucket(domain string) string { return "gridedge_weather_" + domain }

func openLease(ctx context.Context, nc *nats.Conn, domain, who string, ttl time.Duration) (*lease, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("weather lease: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: LeaseBucket(domain), TTL: ttl, History: 1,
		Description: "GridEdge weather: which hub refreshes the sites"})
	if err != nil {
		return nil, fmt.Errorf("weather lease: key-value bucket %s: %w", LeaseBucket(domain), err)
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
		// an update that timed out after it was written: the entry is ours
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

// release gives the lease up so that another hub takes over at once.
func (l *lease) release() {
	if !l.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(l.rev))
	l.held = false
}
