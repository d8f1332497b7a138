package weather

import (
	"context"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/lease"
	"github.com/nats-io/nats.go"
)

// leaseKey is the key of the refresh lease, the right to refresh the sites
// held by one hub of several, in its bucket.
const leaseKey = "refresh"

// LeaseBucket is the key-value bucket of the refresh lease.
func LeaseBucket(domain string) string { return "gridedge_weather_" + domain }

// openLease opens the refresh lease of domain, held as who, in a bucket
// of replicas.
func openLease(ctx context.Context, nc *nats.Conn, domain, who string, ttl time.Duration, replicas int) (*lease.Lease, error) {
	l, err := lease.Open(ctx, nc, lease.Config{Bucket: LeaseBucket(domain), Key: leaseKey, Holder: who, TTL: ttl, Replicas: replicas,
		Description: "GridEdge weather: which hub refreshes the sites"})
	if err != nil {
		return nil, fmt.Errorf("weather %w", err)
	}
	return l, nil
}
