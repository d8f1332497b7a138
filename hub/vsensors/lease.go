package vsensors

import (
	"context"
	"time"

	"github.com/gridedge/gridedge/hub/lease"
	"github.com/nats-io/nats.go"
)

// leaseKey is the key of the poll lease, the right to compute poll-mode
// sensors held by one hub, in its bucket.
const leaseKey = "poll"

// newLease opens the poll lease of domain, held as instance, in a bucket
// of replicas.
func newLease(ctx context.Context, nc *nats.Conn, domain, instance string, ttl time.Duration, replicas int) (*lease.Lease, error) {
	return lease.Open(ctx, nc, lease.Config{Bucket: lease.BucketName("gridedge_vsensors_", domain), Key: leaseKey,
		Holder: instance, TTL: ttl, Replicas: replicas, Description: "GridEdge virtual sensors: which hub computes poll-mode sensors"})
}
