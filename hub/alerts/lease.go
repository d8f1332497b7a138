package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/lease"
	"github.com/nats-io/nats.go"
)

// leaseKey is the key of the lease, the right to evaluate the rules held
// by one hub, in its bucket.
const leaseKey = "rules"

// LeaseBucket is the key-value bucket of the lease.
func LeaseBucket(domain string) string { return "gridedge_alerts_" + domain }

// openLease opens the lease on the rules of domain, held as who, in a
// bucket of replicas.
func openLease(ctx context.Context, nc *nats.Conn, domain, who string, ttl time.Duration, replicas int) (*lease.Lease, error) {
	l, err := lease.Open(ctx, nc, lease.Config{Bucket: LeaseBucket(domain), Key: leaseKey, Holder: who, TTL: ttl, Replicas: replicas,
		Description: "GridEdge alerts: which hub evaluates the alert rules"})
	if err != nil {
		return nil, fmt.Errorf("alerts %w", err)
	}
	return l, nil
}
