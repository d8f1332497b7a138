// Package lease is the right of one hub of several to act for a service
// (evaluate the alert rules, compute poll-mode virtual sensors, refresh the
// weather): a key of a JetStream key-value bucket whose entries expire
// unless renewed. The holder renews it more often than it expires; when it
// stops, another hub creates the key once it has expired (or at once when
// the holder released it) and takes over.
package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// openTimeout bounds creating or updating the bucket.
	openTimeout = 10 * time.Second
	// opTimeout bounds a renewal or a release.
	opTimeout = 2 * time.Second
	// maxReplicas is JetStream's largest replica count.
	maxReplicas = 5
	// clusterOpenFor bounds the attempts to create a replicated bucket:
	// while a cluster's nodes start (or one is lost), JetStream answers
	// slowly or lacks the peers for the replicas.
	clusterOpenFor = 2 * time.Minute
	// retryPause separates two attempts.
	retryPause = time.Second
)

// Config says which lease to hold and under which name.
type Config struct {
	// Bucket is the key-value bucket, one per service (see BucketName).
	Bucket string
	// Key is the key of the lease in the bucket.
	Key string
	// Holder names this hub in the entry; it must be unique among the
	// hubs sharing the bucket.
	Holder string
	// TTL is how long the lease lasts without renewal, so how soon
	// another hub takes over when the holder stops.
	TTL time.Duration
	// Description describes the bucket (what holding the lease means).
	Description string
	// Replicas is the replica count of the bucket (0 and 1: one). In a
	// cluster of hubs it is the ingest streams' (ingest.replicas), so
	// that the lease outlives the node that stores the bucket; an
	// existing bucket is scaled to it when the lease is opened.
	Replicas int
}

// validate names what is wrong with c.
func (c Config) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"bucket", c.Bucket}, {"key", c.Key}, {"holder", c.Holder}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lease: %s missing", strings.Join(missing, ", "))
	}
	if c.TTL <= 0 {
		return fmt.Errorf("lease %s/%s: TTL (%v) must be positive", c.Bucket, c.Key, c.TTL)
	}
	if c.Replicas < 0 || c.Replicas > maxReplicas {
		return fmt.Errorf("lease %s/%s: replicas (%d) must be between 1 and %d", c.Bucket, c.Key, c.Replicas, maxReplicas)
	}
	return nil
}

// Lease is a lease this hub holds or tries to hold. Its methods may be
// called from several goroutines.
type Lease struct {
	cfg Config
	kv  jetstream.KeyValue

	mu   sync.Mutex
	rev  uint64
	held bool
	// renewed is when the entry was last written by this hub
	renewed time.Time
}

// BucketName is prefix followed by domain with every character a bucket
// name cannot hold replaced by '_'.
func BucketName(prefix, domain string) string {
	return prefix + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, domain)
}

// Open creates (or updates to cfg.TTL and cfg.Replicas) the bucket of the
// lease; the lease is not held until Renew says so. A replicated bucket is
// tried again, for up to two minutes, while the cluster cannot make it.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Lease, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("lease %s: open JetStream: %w", cfg.Bucket, err)
	}
	kvc := jetstream.KeyValueConfig{Bucket: cfg.Bucket, TTL: cfg.TTL, History: 1, Description: cfg.Description,
		Replicas: max(cfg.Replicas, 1)}
	deadline := time.Now().Add(clusterOpenFor)
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, openTimeout)
		kv, err := js.CreateOrUpdateKeyValue(cctx, kvc)
		cancel()
		if err == nil {
			return &Lease{cfg: cfg, kv: kv}, nil
		}
		if kvc.Replicas == 1 || ctx.Err() != nil || time.Now().Add(retryPause).After(deadline) {
			return nil, fmt.Errorf("lease: key-value bucket %s with %d replicas (attempt %d): %w", cfg.Bucket, kvc.Replicas, attempt, err)
		}
		t := time.NewTimer(retryPause)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// Bucket is the key-value bucket of the lease.
func (l *Lease) Bucket() string { return l.cfg.Bucket }

// Held reports whether this hub held the lease at the last Renew.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Renew keeps the lease, or takes it when free, and reports whether this
// hub holds it. A renewal that fails for another reason than another
// holder (a slow server, a timeout) keeps the lease for half its TTL after
// the last successful write, so a hiccup does not hand the service over.
func (l *Lease) Renew(ctx context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	who := []byte(l.cfg.Holder)
	if l.held {
		rev, err := l.kv.Update(cctx, l.cfg.Key, who, l.rev)
		if err == nil {
			l.rev, l.renewed = rev, time.Now()
			return true
		}
		// the entry may be ours still (an update that timed out after
		// it was written): take its revision
		if e, gerr := l.kv.Get(cctx, l.cfg.Key); gerr == nil && string(e.Value()) == l.cfg.Holder {
			if rev, uerr := l.kv.Update(cctx, l.cfg.Key, who, e.Revision()); uerr == nil {
				l.rev, l.renewed = rev, time.Now()
				return true
			}
		}
		// a slow server: the lease is ours until it could have expired
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && time.Since(l.renewed) < l.cfg.TTL/2 {
			return true
		}
		l.held = false
	}
	if rev, err := l.kv.Create(cctx, l.cfg.Key, who); err == nil {
		l.rev, l.held, l.renewed = rev, true, time.Now()
	}
	return l.held
}

// Release gives the lease up, when held, so that another hub takes over at
// its next renewal instead of after the TTL. It is meant for a service
// stopping, whose context is already done, so it bounds itself.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// only our revision: an entry another hub wrote meanwhile stays
	_ = l.kv.Delete(ctx, l.cfg.Key, jetstream.LastRevision(l.rev))
	l.held = false
}
