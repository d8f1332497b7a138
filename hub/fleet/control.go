package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/nats-io/nuid"

	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// ErrNoSigningKey is returned by Push and Rollback when the hub has no
// signing key (fleet.signingKey unset).
var ErrNoSigningKey = errors.New("the hub has no fleet signing key: set fleet.signingKey in the hub's config to an nkey seed file " +
	"(make one with 'gridedge key gen --out FILE') and list its public key in each edge's control.trustedKeys")

// ErrOffline is returned when an edge does not answer: nobody listens on
// its control subject, or no answer came within the timeout.
var ErrOffline = errors.New("edge offline")

// DefaultControlTimeout bounds a control request without Confirm.
const DefaultControlTimeout = 10 * time.Second

// confirmTimeout bounds a push with Confirm: the agent answers after the
// new map's first cycles, at most its control.confirmTimeout (30 s) later.
const confirmTimeout = 45 * time.Second

// Control sends the signed map control requests of package control to
// edges on the hub's own NATS connection, as `gridedge map push` does from
// an operator's machine, signing them with the hub's key. Its methods are
// safe for concurrent use.
type Control struct {
	nc     *nats.Conn
	domain string
	key    nkeys.KeyPair // nil: pushes and rollbacks answer ErrNoSigningKey
	pub    string
	// Timeout bounds a request without Confirm (default DefaultControlTimeout).
	Timeout time.Duration
	// now dates signed requests (tests set a fake clock).
	now func() time.Time
}

// NewControl returns a Control on nc for domain; key (nil: none) signs pushes and rollbacks.
func NewControl(nc *nats.Conn, domain string, key nkeys.KeyPair) (*Control, error) {
	c := &Control{nc: nc, domain: domain, key: key, Timeout: DefaultControlTimeout, now: time.Now}
	if key != nil {
		pub, err := key.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("fleet: read the signing key's public key: %w", err)
		}
		c.pub = pub
	}
	return c, nil
}

// LoadSigningKey reads an nkey seed file (the seed alone, as `gridedge key
// gen` writes it, or a decorated creds file). An empty path returns nil
// and no error: the hub then signs nothing.
func LoadSigningKey(path string) (nkeys.KeyPair, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the fleet signing key: %w", err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(data))
	if err != nil {
		if kp, err = nkeys.ParseDecoratedNKey(data); err != nil {
			return nil, fmt.Errorf("fleet signing key %s: not an nkey seed: %w", path, err)
		}
	}
	if _, err := kp.Seed(); err != nil {
		return nil, fmt.Errorf("fleet signing key %s holds a public key only; a seed (S…) is needed to sign", path)
	}
	return kp, nil
}

// PublicKey is the public nkey edges must trust ("" without a signing key).
func (c *Control) PublicKey() string { return c.pub }

// PushOptions are the flags of a push (see control.PushRequest).
type PushOptions struct {
	// DryRun validates and reads each new or changed variable once, applying nothing.
	DryRun bool
	// Partial: the settings hold only the maps and slaves that change.
	Partial bool
	// Confirm waits until the new map passed its first cycles (or was rolled back).
	Confirm bool
}

// Map asks edge for the map it runs (previous: the kept previous one).
func (c *Control) Map(ctx context.Context, edge string, previous bool) (*control.MapGetReply, error) {
	var reply control.MapGetReply
	if err := c.request(ctx, edge, subject.ActionMapGet, control.MapGetRequest{Previous: previous}, &reply, c.Timeout); err != nil {
		return &reply, err
	}
	return &reply, nil
}

// Push signs a map.push of settings for edge on behalf of pusher and sends
// it. An edge's refusal is a *control.Error (CodeInvalidSettings with every
// problem in Details, CodeUntrustedKey when the edge does not trust the
// hub's key, …), returned with the reply.
func (c *Control) Push(ctx context.Context, edge, pusher string, settings json.RawMessage, o PushOptions) (*control.PushReply, error) {
	if c.key == nil {
		return nil, ErrNoSigningKey
	}
	if _, err := control.MapVersion(settings); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadMap, err)
	}
	req := control.PushRequest{Edge: edge, Settings: settings, Partial: o.Partial, DryRun: o.DryRun, Confirm: o.Confirm,
		Pusher: pusher, IssuedAt: c.now().UTC()}
	if err := control.Sign(c.key, &req); err != nil {
		return nil, fmt.Errorf("fleet: sign the push: %w", err)
	}
	timeout := c.Timeout
	if o.Confirm {
		timeout = max(timeout, confirmTimeout)
	}
	var reply control.PushReply
	if err := c.request(ctx, edge, subject.ActionMapPush, req, &reply, timeout); err != nil {
		return &reply, err
	}
	return &reply, nil
}

// Rollback signs a map.rollback for edge on behalf of pusher and sends it.
func (c *Control) Rollback(ctx context.Context, edge, pusher string) (*control.RollbackReply, error) {
	if c.key == nil {
		return nil, ErrNoSigningKey
	}
	req := control.RollbackRequest{Edge: edge, Pusher: pusher, IssuedAt: c.now().UTC()}
	if err := control.Sign(c.key, &req); err != nil {
		return nil, fmt.Errorf("fleet: sign the rollback: %w", err)
	}
	var reply control.RollbackReply
	if err := c.request(ctx, edge, subject.ActionMapRollback, req, &reply, c.Timeout); err != nil {
		return &reply, err
	}
	return &reply, nil
}

// errBadMap wraps a settings document that is not JSON.
var errBadMap = errors.New("the map is not a JSON document")

// IsBadMap reports whether err says the pushed document is not JSON.
func IsBadMap(err error) bool { return errors.Is(err, errBadMap) }

// request sends one control request to edge and decodes the reply into
// out; the reply's "error" is returned as a *control.Error. The reply
// subject starts with the edge's inbox prefix (subject.EdgeInbox): an
// edge's leaf connection may publish nowhere else.
func (c *Control) request(ctx context.Context, edge, action string, req, out any, timeout time.Duration) error {
	if err := subject.CheckToken("edge id", edge); err != nil {
		return fmt.Errorf("%w: %v", errBadEdge, err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("fleet: encode %s: %w", action, err)
	}
	inbox := subject.EdgeInbox(edge) + "." + nuid.Next()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("fleet: subscribe to the reply subject %s: %w", inbox, err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // nothing to do about it
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subject.EdgeControl(c.domain, edge, action), Reply: inbox, Data: body}
	if err := c.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("fleet: send %s to edge %s: %w", action, edge, err)
	}
	reply, err := sub.NextMsgWithContext(rctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("%w: edge %s did not answer %s within %s", ErrOffline, edge, action, timeout)
	case errors.Is(err, nats.ErrNoResponders), err == nil && len(reply.Data) == 0 && reply.Header.Get("Status") == "503":
		return fmt.Errorf("%w: nobody answers %s (edge %s is not connected)", ErrOffline, msg.Subject, edge)
	case err != nil:
		return fmt.Errorf("fleet: wait for edge %s's answer to %s: %w", edge, action, err)
	}
	if err := json.Unmarshal(reply.Data, out); err != nil {
		return fmt.Errorf("fleet: edge %s's answer to %s is not what was expected: %w (%.200q)", edge, action, err, reply.Data)
	}
	var e struct {
		Error *control.Error `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &e); err == nil && e.Error != nil {
		return e.Error
	}
	return nil
}

// errBadEdge wraps an edge id that cannot be a subject token.
var errBadEdge = errors.New("bad edge id")

// IsBadEdge reports whether err says the edge id is not valid.
func IsBadEdge(err error) bool { return errors.Is(err, errBadEdge) }
